# shellcheck shell=bash
# Render the one Spark configuration every Spark process reads from $SPARK_CONF_DIR.
render_spark_conf() {
  [ -n "$SPARK_HOME" ] || die "spark: pyspark is not installed in $VENV_DIR. Run: infra/bootstrap.sh"
  require_jars
  mkdir -p "$WAREHOUSE_DIR"
  "$VENV_DIR/bin/python" -m core.pii keys || die "spark: cannot make the PII keys in $LAKEHOUSE_HOME/secrets"
  render "$INFRA_DIR/spark/spark-defaults.conf" "$SPARK_CONF_DIR/spark-defaults.conf"
  render "$INFRA_DIR/spark/hive-site.xml" "$SPARK_CONF_DIR/hive-site.xml"
  cmp -s "$INFRA_DIR/spark/log4j2.properties" "$SPARK_CONF_DIR/log4j2.properties" ||
    { cp "$INFRA_DIR/spark/log4j2.properties" "$SPARK_CONF_DIR/.log4j2.properties.tmp" &&
      mv "$SPARK_CONF_DIR/.log4j2.properties.tmp" "$SPARK_CONF_DIR/log4j2.properties"; }
}
