package lakehouse.audit;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;

import scala.Function1;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * The SQL endpoints' audit, half one: a check rule that notes, for the statement being analyzed
 * in this thread (the Thrift server's job group, its statement id), the tables and views it
 * reads. {@link AuditListener} writes them with the statement's user, time and hash when it ends.
 * Enabled with {@code spark.sql.extensions=...,lakehouse.audit.AuditExtension}.
 */
public final class AuditExtension extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  // statement id -> tables read; taken by the listener when the statement ends (the eldest are
  // dropped past a bound: a statement that never ends must not hold memory for good)
  private static final int MAX_PENDING = 10_000;
  static final Map<String, Set<String>> READS = Collections.synchronizedMap(
      new LinkedHashMap<String, Set<String>>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Set<String>> eldest) {
          return size() > MAX_PENDING;
        }
      });

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectCheckRule(new AbstractFunction1<SparkSession, Function1<LogicalPlan, BoxedUnit>>() {
      @Override
      public Function1<LogicalPlan, BoxedUnit> apply(SparkSession session) {
        return new AbstractFunction1<LogicalPlan, BoxedUnit>() {
          @Override
          public BoxedUnit apply(LogicalPlan plan) {
            String statement = session.sparkContext().getLocalProperty("spark.jobGroup.id");
            if (statement != null && !insideViewResolution()) {
              READS.computeIfAbsent(statement, k -> ConcurrentHashMap.newKeySet()).addAll(Tables.read(plan));
            }
            return BoxedUnit.UNIT;
          }
        };
      }
    });
    return BoxedUnit.UNIT;
  }

  private static boolean insideViewResolution() {
    return StackWalker.getInstance().walk(frames -> frames.anyMatch(
        f -> f.getClassName().equals("org.apache.spark.sql.catalyst.analysis.ViewResolution$")));
  }
}
