"""The stack's secrets: each generated on first use into ``<home>/secrets/<name>`` (the directory
mode 0700, the file 0600), never committed (the home is outside git), never printed. A user
supplies their own by writing the file before the first start. A secret reaches a configuration
file only through ``render``, escaped for that file's format, never pasted in raw.

``python -m core.secrets render TEMPLATE OUT`` fills a configuration template: ``${VAR}`` from the
environment, ``${secret:NAME}`` with the secret, ``${secret_url:NAME}`` with it percent-encoded
for a URL, ``${secret_jaas:NAME}`` escaped for a JAAS option's quotes, ``${secret_path:NAME}``
with its file's path; every value escaped for the output's format, by its suffix (``ESCAPES``:
XML, JSON, Java properties, env and URL lines, curl's config), ``$$`` for a literal ``$``.
``python -m core.secrets airflow-passwords PATH`` writes the Airflow simple auth manager's
passwords file for the users of ``AIRFLOW_USERS``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape

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


def _properties_escape(value: str) -> str:
    """A value of a Java ``.properties`` file: backslashes, line breaks and a leading blank escaped
    (``Properties.load`` would otherwise eat or split them)."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "\\" + out if out[:1] in (" ", "\t", "\f") else out


def _line_value(value: str) -> str:
    """A value that ends at the end of its line (env files, URLs on a line): no line breaks."""
    if "\n" in value or "\r" in value:
        raise SecretError("a value rendered into a line-based file holds a line break")
    return value


ESCAPES: dict[str, Callable[[str], str]] = {
    ".xml": lambda v: _xml_escape(v, {'"': "&quot;", "'": "&apos;"}),
    ".json": lambda v: json.dumps(v)[1:-1],
    ".properties": _properties_escape,
    ".env": _line_value,
    ".url": _line_value,
    # a double-quoted string of curl's config file (-K)
    ".curl": lambda v: _line_value(v).replace("\\", "\\\\").replace('"', '\\"'),
}
_PLACEHOLDER = re.compile(r"\$\$|\$\{(?:(secret|secret_url|secret_jaas|secret_path):)?([A-Za-z_][A-Za-z0-9_]*)\}")


def render_text(text: str, suffix: str, environ: Mapping[str, str], home: Path | None = None) -> str:
    """``text`` with its placeholders filled and escaped for a file of type ``suffix``. A secret in
    a format without an escaping rule here is refused rather than pasted in raw."""
    escape = ESCAPES.get(suffix)

    def fill(m: re.Match[str]) -> str:
        kind, name = m.groups()
        if m.group(0) == "$$":
            return "$"
        if kind is None:
            if name not in environ:
                raise SecretError(f"variable {name} is not set")
            value = environ[name]
        elif escape is None:
            raise SecretError(f"${{{kind}:{name}}}: no escaping rule for {suffix or 'this'} files")
        elif kind == "secret_path":
            value = str(secret_path(name, home))
            secret(name, home)  # exists before anything reads the path
        else:
            value = secret(name, home)
            if kind == "secret_url":
                value = urllib.parse.quote(value, safe="")
            elif kind == "secret_jaas":  # inside a JAAS option's double quotes
                value = value.replace("\\", "\\\\").replace('"', '\\"')
        return escape(value) if escape else value

    return _PLACEHOLDER.sub(fill, text)


def write_private(path: Path, text: str) -> None:
    """``text`` into ``path``, mode 0600, replaced whole (a reader never sees half a file) and
    left alone when unchanged (running JVMs re-read their config files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        path.chmod(FILE_MODE)
        return
    os.replace(_private_copy(path, text), path)


def render(template: Path, out: Path, environ: Mapping[str, str] | None = None, home: Path | None = None) -> None:
    text = render_text(template.read_text(), template.suffix, os.environ if environ is None else environ, home)
    if template.suffix == ".url":  # one value, read whole by a command (Airflow's _CMD): no newline
        text = text.rstrip("\n")
    write_private(out, text)


def scram_sha256(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of ``password`` (what ``pg_authid`` stores): set as a
    role's password, the clear text never reaches the server or its log."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    b64 = base64.b64encode
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored_key).decode()}:{b64(server_key).decode()}"


def libpq_value(value: str) -> str:
    """A value of a libpq ``key=value`` connection string, quoted and escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
    write_private(path, json.dumps({user: airflow_password(user, home) for user in airflow_users(spec)}) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not (args[:1] == ["airflow-passwords"] and len(args) == 2 or args[:1] == ["render"] and len(args) == 3):
        print("usage: python -m core.secrets airflow-passwords PATH | render TEMPLATE OUT", file=sys.stderr)
        return 2
    s = get_settings()
    try:
        if args[0] == "render":
            try:
                render(Path(args[1]), Path(args[2]))
            except SecretError as e:
                raise SecretError(f"render {args[1]}: {e}") from e
            return 0
        if airflow_users(s.airflow_users).get(s.airflow_admin_user) != "admin":
            raise SecretError(f"AIRFLOW_ADMIN_USER {s.airflow_admin_user} is not an admin in AIRFLOW_USERS")
        write_airflow_passwords(Path(args[1]), s.airflow_users)
    except SecretError as e:
        print(f"secrets: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
