# shellcheck shell=bash
# HDFS for the cluster profile's warehouse: a NameNode and HDFS_DATANODES DataNodes, each a JVM
# of its own from the Hadoop jars on Maven Central (infra/jvm/hdfs, fetched on first start). With
# HDFS_DATANODES=0 (the local profile) there is nothing to start. Sourced by stack.sh.
# The NameNode is the service "hdfs" (pid hdfs.pid), DataNode i "hdfs-dn<i>" (its data in
# $DATA_DIR/hdfs/dn<i>, its ports the HDFS_DATANODE_*_PORT plus 10(i-1)).

HDFS_LOG="$LOG_DIR/hdfs.log"
HDFS_CONF="$CONF_DIR/hdfs"
HDFS_URL="hdfs://$LAKEHOUSE_BIND_HOST:$HDFS_NAMENODE_PORT"

# hdfs_jvm: set HDFS_JVM to the java command every HDFS daemon and tool runs with (heap, log,
# classpath), an array so that paths may hold blanks.
hdfs_jvm() {
  local heap; read -ra heap <<< "$HDFS_HEAP_OPTS"  # JVM options: one word each
  HDFS_JVM=(java "${heap[@]}" -Dlog4j.configuration="file:$INFRA_DIR/hdfs/log4j.properties"
    -Dhadoop.log.dir="$LOG_DIR" -Dhadoop.home.dir="$JARS_DIR/hdfs" -cp "$HDFS_CONF:$JARS_DIR/hdfs/*")
}

hdfs_java() {  # NAME LOG MAIN_CLASS ARGS...: launch one daemon
  local name="$1" log="$2"; shift 2
  hdfs_jvm
  launch "$name" "$log" "${HDFS_JVM[@]}" "$@"
}

# hdfs_live_datanodes: how many DataNodes the NameNode counts as live (its JMX over HTTP).
hdfs_live_datanodes() {
  curl -sf "http://$LAKEHOUSE_BIND_HOST:$HDFS_NAMENODE_HTTP_PORT/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState" \
    | "$VENV_DIR/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["beans"][0]["NumLiveDataNodes"])'
}

hdfs_ready() {  # every DataNode registered and the NameNode out of safe mode
  [ "$(hdfs_live_datanodes 2>/dev/null)" = "$HDFS_DATANODES" ] &&
    curl -sf "http://$LAKEHOUSE_BIND_HOST:$HDFS_NAMENODE_HTTP_PORT/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo" \
      | grep -q '"Safemode" : ""'
}

# hdfs_datanode_args I: DataNode I's folder and ports (generic -D options on its command line).
hdfs_datanode_args() {
  local off=$((10 * ($1 - 1)))
  echo "-D dfs.datanode.data.dir=$DATA_DIR/hdfs/dn$1" \
    "-D dfs.datanode.address=$LAKEHOUSE_BIND_HOST:$((HDFS_DATANODE_PORT + off))" \
    "-D dfs.datanode.http.address=$LAKEHOUSE_BIND_HOST:$((HDFS_DATANODE_HTTP_PORT + off))" \
    "-D dfs.datanode.ipc.address=$LAKEHOUSE_BIND_HOST:$((HDFS_DATANODE_IPC_PORT + off))"
}

# start_hdfs_datanode I: start DataNode I without waiting (also after it was killed).
start_hdfs_datanode() {
  local name="hdfs-dn$1" args
  pid_alive "$name" && return 0
  port_free "$name" "$((HDFS_DATANODE_PORT + 10 * ($1 - 1)))"
  mkdir -p "$DATA_DIR/hdfs/dn$1"
  read -ra args <<< "$(hdfs_datanode_args "$1")"
  hdfs_java "$name" "$LOG_DIR/$name.log" org.apache.hadoop.hdfs.server.datanode.DataNode "${args[@]}"
}

start_hdfs() {
  [ "${HDFS_DATANODES:-0}" -gt 0 ] || { say "hdfs: not in this profile (HDFS_DATANODES=0)"; return 0; }
  "$INFRA_DIR/fetch_jars.sh" hdfs
  mkdir -p "$HDFS_CONF"
  render "$INFRA_DIR/hdfs/core-site.xml" "$HDFS_CONF/core-site.xml"
  render "$INFRA_DIR/hdfs/hdfs-site.xml" "$HDFS_CONF/hdfs-site.xml"
  # The daemons' HTTP servers look up webapps/<name> on the classpath; Maven's jars carry no web
  # pages (a Hadoop tarball does). Empty ones serve what the stack uses: /jmx and /webhdfs.
  mkdir -p "$HDFS_CONF/webapps/hdfs" "$HDFS_CONF/webapps/datanode" "$HDFS_CONF/webapps/static"
  local t=$SECONDS i
  if ! pid_alive hdfs; then
    port_free hdfs "$HDFS_NAMENODE_PORT"; port_free hdfs-http "$HDFS_NAMENODE_HTTP_PORT"
    if [ ! -f "$DATA_DIR/hdfs/name/current/VERSION" ]; then
      hdfs_jvm
      "${HDFS_JVM[@]}" org.apache.hadoop.hdfs.server.namenode.NameNode -format -nonInteractive -clusterid lakehouse >"$HDFS_LOG" 2>&1 \
        || die "hdfs: formatting the NameNode failed. Log: $HDFS_LOG"
    fi
    hdfs_java hdfs "$HDFS_LOG" org.apache.hadoop.hdfs.server.namenode.NameNode
  fi
  for ((i = 1; i <= HDFS_DATANODES; i++)); do start_hdfs_datanode "$i"; done
  wait_until hdfs "$HDFS_LOG" 120 hdfs_ready
  say "hdfs: up, $HDFS_URL, $HDFS_DATANODES DataNodes, replication $HDFS_REPLICATION, in $((SECONDS - t))s (log $HDFS_LOG)"
}

stop_hdfs() {
  local i
  for ((i = HDFS_DATANODES; i >= 1; i--)); do stop_pid "hdfs-dn$i" TERM; done
  stop_pid hdfs TERM
}
status_hdfs() {
  [ "${HDFS_DATANODES:-0}" -gt 0 ] || { echo "not in this profile"; return 0; }
  pid_alive hdfs && echo "up   $HDFS_URL   $(hdfs_live_datanodes 2>/dev/null || echo '?')/$HDFS_DATANODES DataNodes live   log $HDFS_LOG" \
    || echo "down            log $HDFS_LOG"
}
