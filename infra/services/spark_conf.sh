# shellcheck shell=bash
# Render the one Spark configuration every Spark process reads from $SPARK_CONF_DIR.
render_spark_conf() {
  [ -n "$SPARK_HOME" ] || die "spark: pyspark is not installed in $VENV_DIR. Run: infra/bootstrap.sh"
  require_jars
  [[ "$WAREHOUSE_DIR" == *://* ]] || mkdir -p "$WAREHOUSE_DIR"
  "$VENV_DIR/bin/python" -m core.pii keys || die "spark: cannot make the PII keys in $LAKEHOUSE_HOME/secrets"
  render "$INFRA_DIR/spark/spark-defaults.conf" "$SPARK_CONF_DIR/spark-defaults.conf"
  render "$INFRA_DIR/spark/hive-site.xml" "$SPARK_CONF_DIR/hive-site.xml"
  # HDFS's client settings (replicas per block) where every Spark process finds them: its classpath.
  if [ "${HDFS_DATANODES:-0}" -gt 0 ]; then
    render "$INFRA_DIR/hdfs/hdfs-site.xml" "$SPARK_CONF_DIR/hdfs-site.xml"
  else
    rm -f "$SPARK_CONF_DIR/hdfs-site.xml"
  fi
  cmp -s "$INFRA_DIR/spark/log4j2.properties" "$SPARK_CONF_DIR/log4j2.properties" ||
    { cp "$INFRA_DIR/spark/log4j2.properties" "$SPARK_CONF_DIR/.log4j2.properties.tmp" &&
      mv "$SPARK_CONF_DIR/.log4j2.properties.tmp" "$SPARK_CONF_DIR/log4j2.properties"; }
}
