package lakehouse.pii;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;

import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.ExpressionImplUtils;
import org.apache.spark.sql.connector.catalog.functions.BoundFunction;
import org.apache.spark.sql.connector.catalog.functions.ScalarFunction;
import org.apache.spark.sql.connector.catalog.functions.UnboundFunction;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * One of the catalog's functions, string to string, null to null, deterministic: the same value
 * always gives the same token and the same ciphertext, so joins, snapshots' change checks and
 * row hashes keep working. The ciphertext's nonce is synthetic (an HMAC of the value under the
 * AES key, as in AES-GCM-SIV): a nonce repeats only with its plaintext. The output is Spark's
 * aes_encrypt(value, key, 'GCM') layout (nonce, ciphertext, tag), base64: with the key, Spark's
 * aes_decrypt(unbase64(x), key, 'GCM') reads it as well.
 */
final class PiiFunction implements UnboundFunction, ScalarFunction<UTF8String> {
  private static final long serialVersionUID = 1L;
  private static final UTF8String GCM = UTF8String.fromString("GCM");
  private static final UTF8String DEFAULT = UTF8String.fromString("DEFAULT");
  private static final byte[] NO_AAD = new byte[0];
  static final int TOKEN_BYTES = 16;
  static final int NONCE_BYTES = 12;

  enum Kind { TOKEN, ENCRYPT, DECRYPT }

  private final Kind kind;
  private final Keys keys;

  PiiFunction(Kind kind, Keys keys) {
    this.kind = kind;
    this.keys = keys;
  }

  @Override
  public String name() {
    return kind.name().toLowerCase(java.util.Locale.ROOT);
  }

  @Override
  public String canonicalName() {
    return "lakehouse.pii." + name();
  }

  @Override
  public String description() {
    switch (kind) {
      case TOKEN: return "pii.token(value): the value's keyed hash (HMAC-SHA256, 128 bits, hex)";
      case ENCRYPT: return "pii.encrypt(value): the value encrypted with AES-256-GCM, base64";
      default: return "pii.decrypt(ciphertext): the value pii.encrypt encrypted";
    }
  }

  @Override
  public BoundFunction bind(StructType input) {
    if (input.fields().length != 1) {
      throw new UnsupportedOperationException("pii." + name() + " takes one argument, not " + input.fields().length);
    }
    return this;
  }

  @Override
  public DataType[] inputTypes() {
    return new DataType[] {DataTypes.StringType};
  }

  @Override
  public DataType resultType() {
    return DataTypes.StringType;
  }

  @Override
  public boolean isDeterministic() {
    return true;
  }

  @Override
  public UTF8String produceResult(InternalRow row) {
    if (row.isNullAt(0)) return null;
    byte[] value = row.getUTF8String(0).getBytes();
    switch (kind) {
      case TOKEN:
        return UTF8String.fromString(HexFormat.of().formatHex(Keys.hmac(keys.token(), value), 0, TOKEN_BYTES));
      case ENCRYPT: {
        byte[] nonce = Arrays.copyOf(Keys.hmac(keys.aes(), value), NONCE_BYTES);
        byte[] sealed = ExpressionImplUtils.aesEncrypt(value, keys.aes(), GCM, DEFAULT, nonce, NO_AAD);
        return UTF8String.fromBytes(Base64.getEncoder().encode(sealed));
      }
      default: {
        byte[] sealed = Base64.getDecoder().decode(value);
        return UTF8String.fromBytes(ExpressionImplUtils.aesDecrypt(sealed, keys.aes(), GCM, DEFAULT, NO_AAD));
      }
    }
  }
}
