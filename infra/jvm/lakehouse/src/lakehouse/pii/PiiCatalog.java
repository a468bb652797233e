package lakehouse.pii;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.catalyst.analysis.NoSuchFunctionException;
import org.apache.spark.sql.catalyst.analysis.NoSuchNamespaceException;
import org.apache.spark.sql.connector.catalog.FunctionCatalog;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.connector.catalog.functions.UnboundFunction;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * The functions that protect the contracts' {@code pii} columns, as a Spark function catalog:
 * {@code pii.token(x)} (a keyed hash: HMAC-SHA256, the first 128 bits in hex), {@code
 * pii.encrypt(x)} (AES-256-GCM through Spark's own aes_encrypt, base64) and {@code pii.decrypt(x)}.
 * The keys are read by the JVM from the stack's secret files, so they never appear in SQL text,
 * a plan, dbt's compiled files or a log. A catalog's functions, unlike a session extension's, are
 * persistent names: a view may call them.
 *
 * <p>Registered with {@code spark.sql.catalog.pii=lakehouse.pii.PiiCatalog} and {@code
 * spark.sql.catalog.pii.keys=<secrets directory>}; {@code spark.sql.catalog.pii.decrypt=false}
 * leaves decrypt out (the serving endpoint, whose read-only check also refuses these functions
 * anywhere but inside the pipeline's views).
 */
public final class PiiCatalog implements FunctionCatalog {
  private String name;
  private Keys keys;
  private boolean decrypt;

  @Override
  public void initialize(String name, CaseInsensitiveStringMap options) {
    this.name = name;
    String dir = options.get("keys");
    if (dir == null || dir.isBlank()) {
      throw new IllegalArgumentException("spark.sql.catalog." + name + ".keys: the directory of the PII keys is not set");
    }
    this.keys = new Keys(dir);
    this.decrypt = options.getBoolean("decrypt", true);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public Identifier[] listFunctions(String[] namespace) throws NoSuchNamespaceException {
    if (namespace.length > 0) throw new NoSuchNamespaceException(namespace);
    List<Identifier> out = new ArrayList<>();
    out.add(Identifier.of(namespace, "token"));
    out.add(Identifier.of(namespace, "encrypt"));
    if (decrypt) out.add(Identifier.of(namespace, "decrypt"));
    return out.toArray(new Identifier[0]);
  }

  @Override
  public UnboundFunction loadFunction(Identifier ident) throws NoSuchFunctionException {
    if (ident.namespace().length == 0) {
      switch (ident.name().toLowerCase(java.util.Locale.ROOT)) {
        case "token": return new PiiFunction(PiiFunction.Kind.TOKEN, keys);
        case "encrypt": return new PiiFunction(PiiFunction.Kind.ENCRYPT, keys);
        case "decrypt": if (decrypt) return new PiiFunction(PiiFunction.Kind.DECRYPT, keys); break;
        default: break;
      }
    }
    throw new NoSuchFunctionException(ident);
  }
}
