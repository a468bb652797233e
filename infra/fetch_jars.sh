#!/usr/bin/env bash
# Fetch every JVM artifact the stack runs on from Maven Central into $LAKEHOUSE_HOME/jars,
# at the versions pinned in infra/versions.env. Idempotent: a complete cache for the same
# versions is left alone. Nothing resolves from the network at run time after this.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v mvn >/dev/null || die "fetch_jars: Maven (mvn) is not installed. Install it: apt-get install -y maven"
stamp="$(cat "$INFRA_DIR/versions.env" "$INFRA_DIR"/jvm/*/pom.xml "$INFRA_DIR"/jvm/serving/src/lakehouse/serving/*.java | sha256sum | cut -c1-16)"
if [ "$(cat "$JARS_DIR/.complete" 2>/dev/null)" = "$stamp" ]; then
  say "jars: cached in $JARS_DIR ($(du -sh "$JARS_DIR" | cut -f1))"; exit 0
fi
rm -rf "$JARS_DIR"; mkdir -p "$JARS_DIR"
mvn_copy() {  # bundle, extra args...
  local b="$1"; shift
  say "jars: resolving $b from Maven Central"
  (cd "$INFRA_DIR/jvm/$b" && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime \
     -DoutputDirectory="$JARS_DIR/$b" "$@") > "$LOG_DIR/fetch_jars.$b.log" 2>&1 \
     || { tail -20 "$LOG_DIR/fetch_jars.$b.log" >&2; die "jars: Maven could not resolve $b. Log: $LOG_DIR/fetch_jars.$b.log"; }
}
mvn_copy kafka -Dkafka.version="$KAFKA_VERSION" -Dscala.binary.version="$SCALA_BINARY_VERSION"
# Debezium is a Connect plugin: its own folder under plugin.path.
mvn_copy debezium -Ddebezium.version="$DEBEZIUM_VERSION" -DoutputDirectory="$JARS_DIR/connect-plugins/debezium-connector-postgres"
# Only the jars themselves: Spark's wheel already carries Hadoop, Jackson, Parquet and Hive 2.3.
mvn_copy spark -Ddelta.version="$DELTA_VERSION" -Ddelta.spark.artifact="$DELTA_SPARK_ARTIFACT" \
  -Dpostgres.jdbc.version="$POSTGRES_JDBC_VERSION" -Dhive.version="$HIVE_VERSION" -DexcludeTransitive=true
# Data Docs' CSS/JS/fonts (WebJars), so the quality report needs no CDN.
mvn_copy webjars -DexcludeTransitive=true
# The serving endpoint's read-only authorization (a Spark session extension of this project's
# own), compiled against the pyspark wheel's jars: nothing to download.
command -v javac >/dev/null || die "jars: javac is missing (the JDK, not only the JRE). Install it: apt-get install -y openjdk-17-jdk-headless"
[ -n "$SPARK_HOME" ] || die "jars: pyspark is not installed in $VENV_DIR. Run: infra/bootstrap.sh"
say "jars: compiling the serving endpoint's authorization (infra/jvm/serving)"
rm -rf "$JARS_DIR/serving" && mkdir -p "$JARS_DIR/serving/classes"
javac -nowarn -d "$JARS_DIR/serving/classes" -cp "$SPARK_HOME/jars/*" "$INFRA_DIR"/jvm/serving/src/lakehouse/serving/*.java \
  > "$LOG_DIR/fetch_jars.serving.log" 2>&1 || { cat "$LOG_DIR/fetch_jars.serving.log" >&2; die "jars: compiling infra/jvm/serving failed"; }
(cd "$JARS_DIR/serving/classes" && jar cf ../lakehouse-serving.jar lakehouse) || die "jars: packaging infra/jvm/serving failed"
echo "$stamp" > "$JARS_DIR/.complete"
say "jars: $(find "$JARS_DIR" -name '*.jar' | wc -l) jars, $(du -sh "$JARS_DIR" | cut -f1) in $JARS_DIR"
