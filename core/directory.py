"""The people and services who log in to the SQL endpoints, as the OpenLDAP directory the stack
seeds (``infra/services/ldap.sh``) and the Thrift servers authenticate against (HiveServer2's
LDAP mechanism: a bind as ``uid=<user>,<baseDN>``). The pipeline's endpoint binds under
``ou=services``, the read-only serving endpoint under ``ou=people``: a login of one cannot open
a session on the other.

Each user's password is the secret ``sql_<user>`` (generated on first use, 0600; yours if you
write the file first). The directory is rebuilt from this list on every start: nothing in it is
state of its own. ``python -m core.directory ldif OUT`` writes the seed (0600; hashes only).
"""

from __future__ import annotations

import base64
import hashlib
import secrets as random
import sys
from pathlib import Path

from core.secrets import secret, write_private

SUFFIX = "dc=lakehouse,dc=local"
SERVICES = f"ou=services,{SUFFIX}"  # the pipeline's endpoint (THRIFT_PORT): reads and writes every layer
PEOPLE = f"ou=people,{SUFFIX}"  # the serving endpoint (SERVING_PORT): reads gold and quality only
GROUPS = f"ou=groups,{SUFFIX}"
# user -> (role, who it is). The role names the group and what the data layer lets it see.
SQL_USERS = {
    "pipeline": ("pipeline", "dbt, the loaders and the quality gates"),
    "analyst": ("analyst", "analysts and BI tools: gold and the quality results, read-only"),
    "governance": ("governance", "the data-governance committee: quality results and gold, read-only"),
}
PIPELINE_ROLES = {"pipeline"}


def password(user: str) -> str:
    if user not in SQL_USERS:
        raise ValueError(f"unknown SQL user {user!r}; one of {', '.join(SQL_USERS)}")
    return secret(f"sql_{user}")


def ssha(password: str, salt: bytes | None = None) -> str:
    """OpenLDAP's salted SHA-1 ``userPassword`` (the directory never holds the clear text)."""
    salt = salt or random.token_bytes(8)
    return "{SSHA}" + base64.b64encode(hashlib.sha1(password.encode() + salt).digest() + salt).decode()


def serves_pipeline(user: str) -> bool:
    """Whether ``user`` logs in to the pipeline's endpoint (else to the serving endpoint)."""
    return SQL_USERS[user][0] in PIPELINE_ROLES


def user_dn(user: str) -> str:
    return f"uid={user},{SERVICES if serves_pipeline(user) else PEOPLE}"


def seed_ldif() -> str:
    entries = [
        [f"dn: {SUFFIX}", "objectClass: dcObject", "objectClass: organization", "o: lakehouse", "dc: lakehouse"],
        [f"dn: {SERVICES}", "objectClass: organizationalUnit", "ou: services"],
        [f"dn: {PEOPLE}", "objectClass: organizationalUnit", "ou: people"],
        [f"dn: {GROUPS}", "objectClass: organizationalUnit", "ou: groups"],
    ]
    for user, (_, about) in SQL_USERS.items():
        entries.append(
            [
                f"dn: {user_dn(user)}",
                "objectClass: inetOrgPerson",
                f"uid: {user}",
                f"cn: {user}",
                f"sn: {user}",
                f"description: {about}",
                f"userPassword: {ssha(password(user))}",
            ]
        )
    for role in sorted({role for role, _ in SQL_USERS.values()}):
        members = [user_dn(u) for u, (r, _) in SQL_USERS.items() if r == role]
        entries.append(
            [f"dn: cn={role},{GROUPS}", "objectClass: groupOfNames", f"cn: {role}"] + [f"member: {m}" for m in members]
        )
    return "\n\n".join("\n".join(e) for e in entries) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "ldif":
        print("usage: python -m core.directory ldif OUT", file=sys.stderr)
        return 2
    write_private(Path(args[1]), seed_ldif())
    return 0


if __name__ == "__main__":
    sys.exit(main())
