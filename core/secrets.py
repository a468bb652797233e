"""The stack's secrets: each generated on first use into ``<home>/secrets/<name>`` (the directory
mode 0700, the file 0600), never committed (the home is outside git), never printed. A user
supplies their own by writing the file before the first start. Code that renders a secret into a
configuration file does it with that format's own encoder (``json.dumps`` here), never by pasting
text into a template.

``python -m core.secrets airflow-passwords PATH`` writes the Airflow simple auth manager's
passwords file for the users of ``AIRFLOW_USERS``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from pathlib import Path

from core.settings import get_settings

DIR_MODE = 0o700
FILE_MODE = 0o600
NAME = re.compile(r"[a-z][a-z0-9_]*")
# The roles of Airflow's simple auth manager, weakest first.
AIRFLOW_ROLES = ("viewer", "user", "op", "admin")


class SecretError(ValueError):
    pass


def secret_path(name: str, home: Path | None = None) -> Path:
    """Where the secret ``name`` is kept (what a summary shows instead of the secret)."""
    return (home or get_settings().home) / "secrets" / name


def secrets_dir(home: Path | None = None) -> Path:
    path = secret_path("", home)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(DIR_MODE)
    return path


def _private_copy(path: Path, text: str) -> Path:
    """``text`` written whole into a new 0600 file beside ``path``, to be moved or linked there."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "w") as f:
        f.write(text)
    return tmp


def secret(name: str, home: Path | None = None, nbytes: int = 18) -> str:
    """The secret ``name``: read from its file, or generated (URL-safe, ``nbytes`` random bytes)
    and written with mode 0600 on first use. Two processes asking at once get the same one."""
    if not NAME.fullmatch(name):
        raise SecretError(f"secret name {name!r}: lowercase letters, digits and _ only")
    path = secrets_dir(home) / name
    if not path.exists():
        # written whole beside it, then linked into place: the first writer wins, and no reader
        # ever sees the file empty
        tmp = _private_copy(path, secrets.token_urlsafe(nbytes) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    path.chmod(FILE_MODE)  # a file the user wrote may have been left readable to others
    value = path.read_text().rstrip("\n")
    if not value:
        raise SecretError(f"secret {name} is empty: {path}")
    return value


def airflow_users(spec: str) -> dict[str, str]:
    """``admin:admin,operator:op`` -> {user: role}, as Airflow's simple auth manager reads it."""
    users = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        user, _, role = item.partition(":")
        if not NAME.fullmatch(user) or role not in AIRFLOW_ROLES:
            raise SecretError(f"AIRFLOW_USERS item {item!r}: want <user>:<{'|'.join(AIRFLOW_ROLES)}>")
        users[user] = role
    if not users:
        raise SecretError("AIRFLOW_USERS names no user")
    return users


def airflow_password(user: str, home: Path | None = None) -> str:
    return secret(f"airflow_{user}", home)


def airflow_password_path(user: str, home: Path | None = None) -> Path:
    return secret_path(f"airflow_{user}", home)


def write_airflow_passwords(path: Path, spec: str, home: Path | None = None) -> None:
    """The passwords file of Airflow's simple auth manager, as JSON, mode 0600, replaced whole."""
    text = json.dumps({user: airflow_password(user, home) for user in airflow_users(spec)})
    os.replace(_private_copy(path, text + "\n"), path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "airflow-passwords":
        print("usage: python -m core.secrets airflow-passwords PATH", file=sys.stderr)
        return 2
    s = get_settings()
    try:
        if airflow_users(s.airflow_users).get(s.airflow_admin_user) != "admin":
            raise SecretError(f"AIRFLOW_ADMIN_USER {s.airflow_admin_user} is not an admin in AIRFLOW_USERS")
        write_airflow_passwords(Path(args[1]), s.airflow_users)
    except SecretError as e:
        print(f"secrets: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
