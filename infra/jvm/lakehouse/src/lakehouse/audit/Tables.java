package lakehouse.audit;

import java.util.Set;
import java.util.TreeSet;

import org.apache.spark.sql.catalyst.catalog.CatalogTable;
import org.apache.spark.sql.catalyst.catalog.HiveTableRelation;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.SubqueryExpression;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.View;
import org.apache.spark.sql.execution.datasources.LogicalRelation;
import org.apache.spark.sql.execution.datasources.v2.DataSourceV2Relation;

import scala.Option;
import scala.collection.Iterator;

/** The tables and views an analyzed statement reads (a view as itself, not what it reads). */
final class Tables {
  private Tables() {}

  static Set<String> read(LogicalPlan plan) {
    Set<String> out = new TreeSet<>();
    visit(plan, out);
    return out;
  }

  private static void visit(LogicalPlan node, Set<String> out) {
    if (node instanceof View) {
      out.add(((View) node).desc().identifier().unquotedString());
      return;
    }
    if (node instanceof LogicalRelation) {
      Option<CatalogTable> table = ((LogicalRelation) node).catalogTable();
      if (table.isDefined()) out.add(table.get().identifier().unquotedString());
    } else if (node instanceof HiveTableRelation) {
      out.add(((HiveTableRelation) node).tableMeta().identifier().unquotedString());
    } else if (node instanceof DataSourceV2Relation && ((DataSourceV2Relation) node).identifier().isDefined()) {
      out.add(((DataSourceV2Relation) node).identifier().get().toString());
    }
    Iterator<Expression> expressions = node.expressions().iterator();
    while (expressions.hasNext()) expression(expressions.next(), out);
    Iterator<LogicalPlan> children = node.children().iterator();
    while (children.hasNext()) visit(children.next(), out);
  }

  private static void expression(Expression e, Set<String> out) {
    if (e instanceof SubqueryExpression) visit(((SubqueryExpression) e).plan(), out);
    Iterator<Expression> children = e.children().iterator();
    while (children.hasNext()) expression(children.next(), out);
  }
}
