package lakehouse.serving;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.CurrentUserContext;
import org.apache.spark.sql.catalyst.TableIdentifier;
import org.apache.spark.sql.catalyst.analysis.ResolvedNamespace;
import org.apache.spark.sql.catalyst.analysis.ResolvedPersistentView;
import org.apache.spark.sql.catalyst.analysis.ResolvedTable;
import org.apache.spark.sql.catalyst.catalog.HiveTableRelation;
import org.apache.spark.sql.catalyst.expressions.ApplyFunctionExpression;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.SubqueryExpression;
import org.apache.spark.sql.catalyst.plans.logical.Command;
import org.apache.spark.sql.catalyst.plans.logical.InsertIntoStatement;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.View;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.execution.command.SetCommand;
import org.apache.spark.sql.execution.datasources.HadoopFsRelation;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;

import scala.Function1;
import scala.Option;
import scala.Tuple2;
import scala.collection.Iterator;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * The serving endpoint's authorization: a Spark session extension whose check rule runs on every
 * analyzed statement, before it executes, and refuses what an analyst's read-only endpoint must
 * not do. Every command but the catalog's reads (SHOW, DESCRIBE, USE, SET) is refused: no INSERT,
 * MERGE, DELETE, CREATE, DROP, ALTER, CACHE, ADD JAR or function. A query reads only tables and
 * views of the databases in {@code spark.lakehouse.serving.databases}: a view is checked as
 * itself (what it reads below is its owner's business, as in every SQL database), a table read
 * by path, a file or a stream is refused, and so are the functions that call Java by reflection
 * and the PII functions (lakehouse.pii) outside the views that use them.
 *
 * <p>Enabled with {@code spark.sql.extensions=...,lakehouse.serving.ReadOnlyExtension}; the
 * databases are read once, when the session is made (a static setting: a client cannot SET it).
 */
public final class ReadOnlyExtension extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  public static final String DATABASES = "spark.lakehouse.serving.databases";
  // Tables of those databases that stay the pipeline's (db.table): raw rows held back by a gate.
  public static final String HIDDEN = "spark.lakehouse.serving.hidden";
  // Databases only some logins read, db:user|user,...: the audit is the governance committee's.
  public static final String RESTRICTED = "spark.lakehouse.serving.restricted";

  // The catalog's reads a BI tool makes while browsing; everything else that is a Command writes
  // or changes the session's powers.
  private static final Set<String> READ_COMMANDS = new HashSet<>(Arrays.asList(
      "ShowNamespaces", "ShowNamespacesCommand", "ShowTables", "ShowTablesCommand", "ShowViews",
      "ShowViewsCommand", "ShowColumns", "ShowColumnsCommand", "ShowTableProperties",
      "ShowTablePropertiesCommand", "ShowCurrentNamespace", "ShowCurrentNamespaceCommand",
      "DescribeRelation", "DescribeTableCommand", "DescribeColumn", "DescribeColumnCommand",
      "SetCatalogAndNamespace", "SetNamespaceCommand", "SetCommand", "ResetCommand",
      "ShowFunctions", "ShowFunctionsCommand", "DescribeFunction", "DescribeFunctionCommand"));
  // Session settings a client may change: how results come back, nothing that reaches a catalog,
  // a file system or the JVM.
  private static final Set<String> SETTABLE = new HashSet<>(Arrays.asList(
      "spark.sql.session.timeZone", "spark.sql.ansi.enabled", "spark.sql.shuffle.partitions",
      "spark.sql.thriftserver.scheduler.pool", "spark.sql.execution.arrow.pyspark.enabled"));
  private static final Set<String> LEAVES = new HashSet<>(Arrays.asList(
      "LocalRelation", "OneRowRelation", "Range", "CTERelationRef", "ResolvedTempView",
      // datasets the server builds in process (Delta's log state): no SQL names one
      "LogicalRDD", "ExternalRDD"));

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectCheckRule(new AbstractFunction1<SparkSession, Function1<LogicalPlan, BoxedUnit>>() {
      @Override
      public Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
        return new Check(session);
      }
    });
    return BoxedUnit.UNIT;
  }

  static final class Check extends AbstractFunction1<LogicalPlan, BoxedUnit> {
    private final SparkSession session;
    private final Set<String> databases = new HashSet<>();
    private final Set<String> hidden = new HashSet<>();
    private final java.util.Map<String, Set<String>> restricted = new java.util.HashMap<>();

    Check(SparkSession session) {
      this.session = session;
      for (String db : session.sparkContext().conf().get(DATABASES, "").split(",")) {
        if (!db.isBlank()) databases.add(db.trim().toLowerCase(Locale.ROOT));
      }
      for (String table : session.sparkContext().conf().get(HIDDEN, "").split(",")) {
        if (!table.isBlank()) hidden.add(table.trim().toLowerCase(Locale.ROOT));
      }
      for (String entry : session.sparkContext().conf().get(RESTRICTED, "").split(",")) {
        String[] dbUsers = entry.split(":", 2);
        if (dbUsers.length == 2) {
          restricted.put(dbUsers[0].trim().toLowerCase(Locale.ROOT), new HashSet<>(Arrays.asList(dbUsers[1].trim().split("\\|"))));
        }
      }
    }

    @Override
    public BoxedUnit apply(LogicalPlan plan) {
      // A view's body is analyzed and checked on its own (Spark's ViewResolution) while the
      // statement that reads the view is resolved: the view itself is checked in the statement.
      if (!insideViewResolution()) visit(plan);
      return BoxedUnit.UNIT;
    }

    private static boolean insideViewResolution() {
      return StackWalker.getInstance().walk(frames -> frames.anyMatch(
          f -> f.getClassName().equals("org.apache.spark.sql.catalyst.analysis.ViewResolution$")));
    }

    private void visit(LogicalPlan node) {
      String kind = node.nodeName();
      if (node instanceof View) {
        table(((View) node).desc().identifier());
        return;
      }
      // USE only changes the current database (every session starts in default): what is then read
      // is checked by the table it resolves to.
      if (kind.equals("SetCatalogAndNamespace") || kind.equals("SetNamespaceCommand")) return;
      if (node instanceof InsertIntoStatement) refuse("writing (" + kind + ")");
      if (node instanceof Command) {
        if (!READ_COMMANDS.contains(kind)) refuse(kind + " (a read-only endpoint runs queries and catalog reads only)");
        if (node instanceof SetCommand) checkSet((SetCommand) node);
        checkFields(node);
      }
      if (node instanceof LogicalRelation) {
        Option<?> table = ((LogicalRelation) node).catalogTable();
        if (table.isDefined()) {
          table(((org.apache.spark.sql.catalyst.catalog.CatalogTable) table.get()).identifier());
        } else if (!deltaLog((LogicalRelation) node)) {
          refuse("reading files by path");
        }
      } else if (node instanceof HiveTableRelation) {
        table(((HiveTableRelation) node).tableMeta().identifier());
      } else if (node instanceof DataSourceV2Relation) {
        DataSourceV2Relation rel = (DataSourceV2Relation) node;
        if (rel.identifier().isEmpty()) refuse("reading a data source that is not a table");
        namespace((Identifier) rel.identifier().get());
      } else if (node instanceof ResolvedTable) {
        namespace(((ResolvedTable) node).identifier());
      } else if (node instanceof ResolvedPersistentView) {
        namespace(((ResolvedPersistentView) node).identifier());
      } else if (node instanceof ResolvedNamespace) {
        scala.collection.immutable.Seq<String> ns = ((ResolvedNamespace) node).namespace();
        if (ns.nonEmpty()) allowed(ns.head(), "database " + ns.head());
      } else if (node.children().isEmpty() && !LEAVES.contains(kind) && !(node instanceof Command)) {
        refuse("reading " + kind);
      }
      Iterator<Expression> expressions = node.expressions().iterator();
      while (expressions.hasNext()) checkExpression(expressions.next());
      Iterator<LogicalPlan> children = node.children().iterator();
      while (children.hasNext()) visit(children.next());
    }

    // Delta reads a table's log (its own JSON and checkpoint files) with queries of its own while it
    // resolves the table; a client's SQL cannot name such a relation (spark.sql.runSQLOnFiles=false).
    private static boolean deltaLog(LogicalRelation rel) {
      if (!(rel.relation() instanceof HadoopFsRelation)) return false;
      Iterator<org.apache.hadoop.fs.Path> paths = ((HadoopFsRelation) rel.relation()).location().rootPaths().iterator();
      boolean any = false;
      while (paths.hasNext()) {
        org.apache.hadoop.fs.Path path = paths.next();
        if (!path.toString().contains("/_delta_log")) return false;
        any = true;
      }
      return any;
    }

    private void checkExpression(Expression e) {
      String kind = e.getClass().getSimpleName();
      if (kind.contains("Reflect")) refuse("calling Java by reflection (" + e.prettyName() + ")");
      // pii.token and pii.encrypt run here only inside the pipeline's views (a view is not
      // visited below): called directly, they would let a client tokenise any phone number.
      if (e instanceof ApplyFunctionExpression
          && ((ApplyFunctionExpression) e).function().getClass().getName().startsWith("lakehouse.pii.")) {
        refuse("calling " + ((ApplyFunctionExpression) e).function().canonicalName() + " (the pipeline's only)");
      }
      if (e instanceof SubqueryExpression) visit(((SubqueryExpression) e).plan());
      Iterator<Expression> children = e.children().iterator();
      while (children.hasNext()) checkExpression(children.next());
    }

    private void checkSet(SetCommand set) {
      Option<Tuple2<String, Option<String>>> kv = set.kv();
      if (kv.isEmpty() || kv.get()._2().isEmpty()) return;  // reading a setting
      String key = kv.get()._1();
      if (!SETTABLE.contains(key)) refuse("setting " + key);
    }

    // A v1 command names its table by a TableIdentifier field, or its database by an Option[String].
    private void checkFields(LogicalPlan command) {
      Iterator<Object> fields = command.productIterator();
      while (fields.hasNext()) {
        Object field = fields.next();
        if (field instanceof Option && ((Option<?>) field).isDefined()) field = ((Option<?>) field).get();
        if (field instanceof TableIdentifier) {
          table((TableIdentifier) field);
        } else if (field instanceof String && command.nodeName().matches("Show(Tables|Views|Columns)Command")) {
          allowed((String) field, "database " + field);
        }
      }
    }

    private void table(TableIdentifier id) {
      Option<String> db = id.database();
      qualified(db.isDefined() ? db.get() : session.catalog().currentDatabase(), id.table(), id.toString());
    }

    private void namespace(Identifier id) {
      String[] ns = id.namespace();
      qualified(ns.length > 0 ? ns[0] : session.catalog().currentDatabase(), id.name(), id.toString());
    }

    private void qualified(String db, String table, String what) {
      allowed(db, what);
      if (hidden.contains((db + "." + table).toLowerCase(Locale.ROOT))) refuse(what + " (the pipeline's only)");
    }

    private void allowed(String db, String what) {
      String name = db.toLowerCase(Locale.ROOT);
      if (!databases.contains(name)) {
        refuse(what + " (this endpoint reads only " + String.join(", ", new java.util.TreeSet<>(databases)) + ")");
      }
      // the login of the statement being checked, as Spark's current_user() sees it
      Set<String> users = restricted.get(name);
      if (users != null && !users.contains(CurrentUserContext.getCurrentUserOrEmpty())) {
        refuse(what + " (" + String.join(", ", new java.util.TreeSet<>(users)) + " only)");
      }
    }

    private static void refuse(String what) {
      throw new SecurityException("Permission denied: " + what);
    }
  }
}
