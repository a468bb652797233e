package lakehouse.pii;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The two PII keys, read from the stack's secret files on first use in each JVM (a task on an
 * executor reads the executor's copy: only the directory's path travels with the plan).
 * {@code pii_token_key} keys the token's HMAC; {@code pii_encryption_key} is hashed to the
 * AES-256 key. core/pii.py derives both the same way.
 */
final class Keys implements Serializable {
  private static final long serialVersionUID = 1L;
  static final String TOKEN = "pii_token_key";
  static final String ENCRYPTION = "pii_encryption_key";

  private final String dir;
  private transient byte[] token;
  private transient byte[] aes;

  Keys(String dir) {
    this.dir = dir;
  }

  byte[] token() {
    if (token == null) token = read(TOKEN);
    return token;
  }

  byte[] aes() {
    if (aes == null) {
      try {
        aes = MessageDigest.getInstance("SHA-256").digest(read(ENCRYPTION));
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    }
    return aes;
  }

  static byte[] hmac(byte[] key, byte[] message) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac.doFinal(message);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private byte[] read(String name) {
    Path path = Paths.get(dir, name);
    try {
      String value = new String(Files.readAllBytes(path), StandardCharsets.UTF_8).strip();
      if (value.isEmpty()) throw new IllegalStateException("PII key " + path + " is empty");
      return value.getBytes(StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(
          "PII key " + path + " cannot be read (infra/stack.sh start creates it): " + e.getMessage(), e);
    }
  }
}
