"""The contracts' personal data (columns flagged ``pii: true``), as the pipeline protects it from
silver on: the phone, the unified user ID, becomes a keyed-hash token (gold joins on it) and a
masked form (``138****1234``); names and birth dates are encrypted (AES-256-GCM) and masked. The
SQL functions ``pii.token``, ``pii.encrypt`` and ``pii.decrypt`` live in the pipeline's JVMs
(infra/jvm/lakehouse/src/lakehouse/pii); this module makes their keys and is their Python twin
for the token (the known-answer tests, the erasure command), derived the same way.

``python -m core.pii keys`` makes both keys if missing (``infra/services/spark_conf.sh`` does, before
any Spark process starts).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import sys
from pathlib import Path

from core.secrets import secret

TOKEN_KEY = "pii_token_key"
ENCRYPTION_KEY = "pii_encryption_key"
KEY_BYTES = 32
TOKEN_HEX = 32  # 128 bits of the HMAC, as lakehouse.pii.PiiFunction.TOKEN_BYTES


_MOBILE = re.compile(r"(0086|86)?1[3-9][0-9]{9}")


def e164(typed: str | None) -> str | None:
    """A Chinese mobile number in E.164 from the forms people type, as dbt's normalize_phone
    macro makes it; None for anything else."""
    digits = re.sub(r"\D", "", typed or "")
    return "+86" + digits[-11:] if _MOBILE.fullmatch(digits) else None


def ensure_keys(home: Path | None = None) -> None:
    for name in (TOKEN_KEY, ENCRYPTION_KEY):
        secret(name, home, nbytes=KEY_BYTES)


@functools.cache
def _token_key(home: Path | None) -> bytes:
    return secret(TOKEN_KEY, home, nbytes=KEY_BYTES).strip().encode()


def token(value: str, home: Path | None = None) -> str:
    """``pii.token(value)``: the first 128 bits of HMAC-SHA256 under the token key, in hex."""
    return hmac.new(_token_key(home), value.encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def mask_phone(e164: str) -> str:
    """``+8613812341234`` -> ``138****1234``, as dbt's mask_phone macro."""
    return f"{e164[3:6]}****{e164[-4:]}"


def mask_name(name: str) -> str:
    """The first character and a star for each of the others (one at least), as dbt's mask_name."""
    return name[:1] + "*" * max(len(name) - 1, 1)


if __name__ == "__main__":
    if sys.argv[1:] != ["keys"]:
        sys.exit("usage: python -m core.pii keys")
    ensure_keys()
