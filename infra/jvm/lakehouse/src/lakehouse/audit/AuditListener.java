package lakehouse.audit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.spark.SparkConf;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerEvent;
import org.apache.spark.sql.hive.thriftserver.ui.SparkListenerThriftServerOperationError;
import org.apache.spark.sql.hive.thriftserver.ui.SparkListenerThriftServerOperationFinish;
import org.apache.spark.sql.hive.thriftserver.ui.SparkListenerThriftServerOperationStart;

/**
 * The SQL endpoints' audit, half two: a Spark listener of the Thrift server's statement events
 * that appends one JSON line per statement to {@code spark.lakehouse.audit.file} (mode 0600):
 * the endpoint, the login, when it started and ended, the SHA-256 of its text (never the text:
 * it carries literals, phone numbers among them), the tables and views it read (from
 * {@link AuditExtension}) and whether it failed. Enabled with {@code
 * spark.extraListeners=lakehouse.audit.AuditListener}.
 */
public final class AuditListener extends SparkListener {
  private final Path file;
  private final String endpoint;
  private final Map<String, SparkListenerThriftServerOperationStart> started = new ConcurrentHashMap<>();

  public AuditListener(SparkConf conf) {
    this.file = Paths.get(conf.get("spark.lakehouse.audit.file"));
    this.endpoint = conf.get("spark.lakehouse.audit.endpoint", "sql");
  }

  @Override
  public void onOtherEvent(SparkListenerEvent event) {
    if (event instanceof SparkListenerThriftServerOperationStart) {
      SparkListenerThriftServerOperationStart start = (SparkListenerThriftServerOperationStart) event;
      started.put(start.id(), start);
    } else if (event instanceof SparkListenerThriftServerOperationFinish) {
      SparkListenerThriftServerOperationFinish finish = (SparkListenerThriftServerOperationFinish) event;
      write(finish.id(), finish.finishTime(), null);
    } else if (event instanceof SparkListenerThriftServerOperationError) {
      SparkListenerThriftServerOperationError error = (SparkListenerThriftServerOperationError) event;
      write(error.id(), error.finishTime(), errorClass(error.errorMsg()));
    }
  }

  private void write(String id, long finishedAt, String error) {
    SparkListenerThriftServerOperationStart start = started.remove(id);
    if (start == null) return;
    Set<String> tables = AuditExtension.READS.remove(start.groupId());
    StringBuilder line = new StringBuilder(256)
        .append("{\"endpoint\":").append(json(endpoint))
        .append(",\"statement_id\":").append(json(id))
        .append(",\"session_id\":").append(json(start.sessionId()))
        .append(",\"user_name\":").append(json(start.userName()))
        .append(",\"started_at\":").append(json(Instant.ofEpochMilli(start.startTime()).toString()))
        .append(",\"finished_at\":").append(json(Instant.ofEpochMilli(finishedAt).toString()))
        .append(",\"statement_sha256\":").append(json(sha256(start.statement())))
        .append(",\"tables_read\":[");
    String sep = "";
    for (String t : tables == null ? new TreeSet<String>() : new TreeSet<>(tables)) {
      line.append(sep).append(json(t));
      sep = ",";
    }
    line.append("],\"error\":").append(error == null ? "null" : json(error)).append("}\n");
    append(line.toString());
  }

  private synchronized void append(String line) {
    try {
      if (!Files.exists(file)) {
        Files.createDirectories(file.getParent());
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      }
      Files.write(file, line.getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
    } catch (IOException e) {
      System.err.println("lakehouse audit: cannot append to " + file + ": " + e);
    }
  }

  // Only the error's class (PARSE_SYNTAX_ERROR, TABLE_OR_VIEW_NOT_FOUND, ...): its message may
  // quote the statement.
  private static final Pattern ERROR_CLASS = Pattern.compile("\\[([A-Z][A-Z0-9_.]+)\\]");

  static String errorClass(String message) {
    if (message == null) return "error";
    if (message.contains("Permission denied")) return "PERMISSION_DENIED";
    Matcher m = ERROR_CLASS.matcher(message);
    return m.find() ? m.group(1) : "error";
  }

  static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
