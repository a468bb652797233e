"""Kafka's logins (SASL/SCRAM-SHA-512) and what each may do (ACLs; nothing is allowed that no ACL
allows). ``python -m core.kafka_access`` creates or updates the SCRAM credentials and the ACLs
as the ``admin`` principal; ``infra/services/kafka.sh`` runs it on every start.

Principals: ``admin`` and ``broker`` are the broker's super users (credentials written when the
log directory is formatted); ``connect`` runs Kafka Connect and Debezium (its own topics and
group, and writes the CDC topics); ``capture`` is the CDC consumer and the tools around it (reads
the CDC topics and Debezium's notifications, commits its group's offsets). Passwords are the
secrets ``kafka_<principal>``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from core.secrets import secret
from core.settings import get_settings

MECHANISM = "SCRAM-SHA-512"
SUPER_USERS = ("admin", "broker")
# The CDC consumer's group (spark_jobs.cdc.consumer commits its landed offsets there).
CAPTURE_GROUP = "lakehouse-bronze-cdc"
CONNECT_GROUP = "lakehouse-connect"
CDC_TOPIC_PREFIXES = ("crm.", "bss.")


@dataclass(frozen=True)
class Grant:
    resource: str  # TOPIC, GROUP, CLUSTER
    name: str
    prefixed: bool
    operations: tuple[str, ...]


GRANTS: dict[str, tuple[Grant, ...]] = {
    "connect": (
        *(Grant("TOPIC", p, True, ("ALL",)) for p in CDC_TOPIC_PREFIXES),
        Grant("TOPIC", "_connect_", True, ("ALL",)),
        Grant("TOPIC", "__debezium", True, ("ALL",)),
        Grant("GROUP", CONNECT_GROUP, False, ("ALL",)),
    ),
    "capture": (
        *(Grant("TOPIC", p, True, ("READ", "DESCRIBE")) for p in CDC_TOPIC_PREFIXES),
        Grant("TOPIC", "__debezium-notifications.", True, ("READ", "DESCRIBE")),
        Grant("GROUP", CAPTURE_GROUP, False, ("READ", "DESCRIBE")),
    ),
}
PRINCIPALS = (*SUPER_USERS, *GRANTS)


def password(principal: str) -> str:
    if principal not in PRINCIPALS:
        raise ValueError(f"unknown Kafka principal {principal!r}; one of {', '.join(PRINCIPALS)}")
    return secret(f"kafka_{principal}")


def login(principal: str, bootstrap: str | None = None) -> dict[str, str]:
    """kafka-python's connection settings for ``principal``: ``KafkaConsumer(**login("capture"), ...)``."""
    return {
        "bootstrap_servers": bootstrap or get_settings().kafka_bootstrap,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": MECHANISM,
        "sasl_plain_username": principal,
        "sasl_plain_password": password(principal),
    }


def _acls(principal: str, grant: Grant):
    from kafka.admin import ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourceType

    pattern = ResourcePattern(
        ResourceType[grant.resource],
        grant.name,
        ACLResourcePatternType.PREFIXED if grant.prefixed else ACLResourcePatternType.LITERAL,
    )
    return [
        ACL(f"User:{principal}", "*", ACLOperation[op], ACLPermissionType.ALLOW, pattern) for op in grant.operations
    ]


def bootstrap() -> list[str]:
    """Upsert every service principal's SCRAM credential and create its ACLs (idempotent)."""
    from kafka.admin import KafkaAdminClient, UserScramCredentialUpsertion

    admin = KafkaAdminClient(**login("admin"), request_timeout_ms=15_000)
    try:
        upserts = [UserScramCredentialUpsertion(p, MECHANISM, password(p)) for p in GRANTS]
        failed = {user: err for user, err in admin.alter_user_scram_credentials(upserts).items() if err}
        if failed:
            raise RuntimeError(f"kafka: SCRAM credentials not set: {failed}")
        acls = [acl for principal, grants in GRANTS.items() for g in grants for acl in _acls(principal, g)]
        result = admin.create_acls(acls)
        if result["failed"]:
            raise RuntimeError(f"kafka: ACLs not created: {result['failed']}")
    finally:
        admin.close()
    return [f"{p}: {len(g)} grants" for p, g in GRANTS.items()]


def main() -> int:
    try:
        print(f"kafka: principals {', '.join(bootstrap())}")
    except Exception as e:  # noqa: BLE001 - one clear line for the start script
        print(f"kafka: setting up logins and ACLs failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
