#!/usr/bin/env bash
# Fetch every JVM artifact the stack runs on from Maven Central into $LAKEHOUSE_HOME/jars,
# at the versions pinned in infra/versions.env. Idempotent: a complete cache for the same
# versions is left alone. Nothing resolves from the network at run time after this.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

command -v mvn >/dev/null || die "fetch_jars: Maven (mvn) is not installed. Install it: apt-get install -y maven"
# The project's own Spark extensions (infra/jvm/lakehouse) are compiled against the pyspark wheel's
# jars, nothing to download: a change to their sources recompiles them alone.
build_extensions() {
  local src="$INFRA_DIR/jvm/lakehouse/src" out="$JARS_DIR/lakehouse" stamp
  stamp="$(find "$src" -name '*.java' -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)"
  [ "$(cat "$out/.complete" 2>/dev/null)" = "$stamp" ] && return 0
  command -v javac >/dev/null || die "jars: javac is missing (the JDK, not only the JRE). Install it: apt-get install -y openjdk-17-jdk-headless"
  [ -n "$SPARK_HOME" ] || die "jars: pyspark is not installed in $VENV_DIR. Run: infra/bootstrap.sh"
  say "jars: compiling the serving endpoint's authorization and the PII functions (infra/jvm/lakehouse)"
  rm -rf "$out" && mkdir -p "$out/classes"
  find "$src" -name '*.java' -print0 | xargs -0 javac -nowarn -d "$out/classes" -cp "$SPARK_HOME/jars/*" \
    > "$LOG_DIR/fetch_jars.lakehouse.log" 2>&1 || { cat "$LOG_DIR/fetch_jars.lakehouse.log" >&2; die "jars: compiling infra/jvm/lakehouse failed"; }
  (cd "$out/classes" && jar cf ../lakehouse-spark.jar lakehouse) || die "jars: packaging infra/jvm/lakehouse failed"
  echo "$stamp" > "$out/.complete"
}

# fetch_jars.sh hdfs: the cluster profile's HDFS daemons, a bundle of its own (fetched on the
# profile's first start, not by bootstrap): a folder and a stamp of their own.
if [ "${1:-}" = hdfs ]; then
  stamp="$(cat "$INFRA_DIR/versions.env" "$INFRA_DIR/jvm/hdfs/pom.xml" | sha256sum | cut -c1-16)"
  [ "$(cat "$JARS_DIR/hdfs/.complete" 2>/dev/null)" = "$stamp" ] && exit 0
  say "jars: resolving hdfs $HADOOP_VERSION from Maven Central"
  rm -rf "$JARS_DIR/hdfs"
  (cd "$INFRA_DIR/jvm/hdfs" && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime \
     -DoutputDirectory="$JARS_DIR/hdfs" -Dhadoop.version="$HADOOP_VERSION") > "$LOG_DIR/fetch_jars.hdfs.log" 2>&1 \
     || { tail -20 "$LOG_DIR/fetch_jars.hdfs.log" >&2; die "jars: Maven could not resolve hdfs. Log: $LOG_DIR/fetch_jars.hdfs.log"; }
  echo "$stamp" > "$JARS_DIR/hdfs/.complete"
  say "jars: hdfs in $JARS_DIR/hdfs ($(du -sh "$JARS_DIR/hdfs" | cut -f1))"; exit 0
fi

stamp="$(cat "$INFRA_DIR/versions.env" "$INFRA_DIR"/jvm/{kafka,debezium,spark,webjars}/pom.xml | sha256sum | cut -c1-16)"
if [ "$(cat "$JARS_DIR/.complete" 2>/dev/null)" = "$stamp" ]; then
  build_extensions
  say "jars: cached in $JARS_DIR ($(du -sh "$JARS_DIR" | cut -f1))"; exit 0
fi
# Not the hdfs bundle: it has its own stamp, and a running NameNode loads classes from it.
rm -rf "$JARS_DIR"/{kafka,connect-plugins,spark,webjars,lakehouse,.complete}; mkdir -p "$JARS_DIR"
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
build_extensions
echo "$stamp" > "$JARS_DIR/.complete"
say "jars: $(find "$JARS_DIR" -name '*.jar' | wc -l) jars, $(du -sh "$JARS_DIR" | cut -f1) in $JARS_DIR"
