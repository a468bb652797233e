"""Every endpoint of the stack refuses a client without the right credentials, and lets the one
with them in: the SQL endpoint (HiveServer2 over LDAP, through PyHive and beeline's JDBC), Kafka
Connect's REST API (basic authentication), Spark Connect (bearer token) and Kafka (SASL/SCRAM
with ACLs).
PostgreSQL and Airflow have their own files (test_postgres_auth.py, test_airflow_auth.py)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pyspark
import pytest

from core import directory, kafka_access, services
from core.secrets import secret
from core.session import connect_login_url
from core.settings import get_settings
from core.sql import thrift_query

pytestmark = pytest.mark.integration
S = get_settings()


def _connect_status(authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization else {}
    request = urllib.request.Request(f"{S.connect_url}/connectors/crm/config", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "authorization",
    [None, "wrong", lambda: _basic("connect", "wrong"), lambda: _basic("admin", secret("connect_rest"))],
    ids=["none", "garbage", "wrong-password", "wrong-user"],
)
def test_connect_rest_refuses_a_wrong_or_missing_login(authorization):
    assert _connect_status(authorization() if callable(authorization) else authorization) == 401


def test_connect_rest_lets_its_user_in_and_shows_no_database_password():
    assert _connect_status(_basic(services.CONNECT_REST_USER, secret("connect_rest"))) == 200
    config = services.connect_api("/connectors/crm/config")
    # the connector names its password through the worker's FileConfigProvider, never inline
    assert config["database.user"] == "debezium"
    assert config["database.password"].startswith("${file:") and secret("pg_debezium") not in json.dumps(config)


# In a process of its own: a Spark Connect session marks its process (SPARK_CONNECT_MODE_ENABLED),
# and every process this one starts after it would try Spark Connect instead of a local session.
CONNECT_PROBE = """
import sys
from pyspark.sql import SparkSession
try:
    spark = SparkSession.builder.remote(sys.argv[1]).create()
    print("answer", spark.sql("select 41 + 1 as n").collect()[0].n)
    spark.stop()
except Exception as e:
    print("refused", type(e).__name__, str(e).replace(chr(10), " ")[:300])
"""


def _spark_connect(url: str) -> str:
    r = subprocess.run([sys.executable, "-c", CONNECT_PROBE, url], capture_output=True, text=True, timeout=120)
    return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-500:]


@pytest.mark.parametrize("suffix", ["", "/;token=wrong"], ids=["no-token", "wrong-token"])
def test_spark_connect_refuses_a_client_without_the_token(suffix):
    host_port = connect_login_url(S.spark_connect_url).split("/;")[0]
    outcome = _spark_connect(host_port + suffix)
    assert outcome.startswith("refused SparkConnectGrpcException") and "UNAUTHENTICATED" in outcome, outcome


def test_spark_connect_lets_a_client_with_the_token_in():
    assert _spark_connect(connect_login_url(S.spark_connect_url)) == "answer 42"


@pytest.mark.parametrize(
    ("endpoint", "user", "password"),
    [
        ("pipeline", "someone", "wrong"),
        ("pipeline", "pipeline", "wrong"),
        ("pipeline", "pipeline", ""),
        ("pipeline", "pipeline", None),
        ("pipeline", "analyst", "analyst"),  # an analyst's own password: not a login of this endpoint
        ("serving", "analyst", "wrong"),
        ("serving", "analyst", "pipeline"),
        ("serving", "pipeline", "pipeline"),  # the pipeline's own password: not a login here
    ],
    ids=[
        "unknown-user",
        "wrong-password",
        "empty-password",
        "no-password",
        "analyst-on-pipeline-endpoint",
        "serving-wrong-password",
        "serving-another-users-password",
        "pipeline-on-serving-endpoint",
    ],
)
def test_the_sql_endpoints_refuse_a_wrong_or_missing_login(endpoint, user, password):
    from pyhive import hive
    from thrift.transport.TTransport import TTransportException

    if password in directory.SQL_USERS:
        password = directory.password(password)
    kwargs = {"auth": "LDAP", "password": password} if password is not None else {}
    port = S.thrift_port if endpoint == "pipeline" else S.serving_port
    with pytest.raises(TTransportException, match="Error validating the login|authentication failed|Bad password"):
        hive.connect(host=S.bind_host, port=port, username=user, **kwargs).close()


def test_the_sql_endpoints_let_each_directory_user_in_on_its_own():
    for user in directory.SQL_USERS:
        assert thrift_query("select current_user()", user=user) == [(user,)]


def _beeline(user: str, password: str) -> subprocess.CompletedProcess:
    spark_home = Path(pyspark.__file__).parent
    # the password through a file, as a production user would (-w), not on the command line
    with tempfile.NamedTemporaryFile("w", suffix=".pw") as f:
        f.write(password)
        f.flush()
        return subprocess.run(
            [
                str(spark_home / "bin" / "beeline"),
                "-u",
                S.serving_jdbc_url,  # where analysts log in
                "-n",
                user,
                "-w",
                f.name,
                "--silent=true",
                "--outputformat=csv2",
                "-e",
                "select 1 as one",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SPARK_HOME": str(spark_home)},
        )


def test_beeline_over_jdbc_is_refused_a_wrong_password_and_accepted_the_right_one():
    refused = _beeline("analyst", "wrong")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Error validating the login" in output, output[-2000:]
    accepted = _beeline("analyst", directory.password("analyst"))
    assert accepted.returncode == 0 and accepted.stdout.split()[-2:] == ["one", "1"], accepted.stderr[-2000:]


PROBE_TOPIC = "crm.public.auth_probe"  # under a CDC prefix: what the consumer may read


def _kafka_topics(**login) -> set[str]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**login, request_timeout_ms=5000, bootstrap_timeout_ms=5000)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


@pytest.mark.parametrize("how", ["plaintext", "wrong-password", "unknown-user"])
def test_kafka_refuses_a_client_without_a_scram_login(how):
    from kafka.errors import KafkaError

    login = kafka_access.login("capture")
    if how == "plaintext":
        login = {"bootstrap_servers": login["bootstrap_servers"]}
    elif how == "wrong-password":
        login["sasl_plain_password"] = "wrong"
    else:
        login["sasl_plain_username"] = "someone"
    with pytest.raises(KafkaError, match="Unable to bootstrap|NoBrokersAvailable|Authentication"):
        _kafka_topics(**login)
    assert _kafka_topics(**kafka_access.login("capture")) is not None  # the right login gets in


def _end_offset(principal: str, topic: str) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**kafka_access.login(principal), enable_auto_commit=False, request_timeout_ms=10_000)
    try:
        tp = TopicPartition(topic, 0)
        return consumer.end_offsets([tp])[tp]
    finally:
        consumer.close()


def _produce(principal: str, topic: str) -> int:
    from kafka import KafkaProducer

    producer = KafkaProducer(**kafka_access.login(principal), max_block_ms=10_000, enable_idempotence=False)
    try:
        return producer.send(topic, b"probe").get(timeout=10).offset
    finally:
        producer.close()


def test_kafka_acls_let_the_consumer_read_the_cdc_topics_only_and_write_nothing():
    from kafka.errors import TopicAuthorizationFailedError

    offset = _produce("admin", PROBE_TOPIC)
    assert _end_offset("capture", PROBE_TOPIC) == offset + 1
    with pytest.raises(TopicAuthorizationFailedError):
        _produce("capture", PROBE_TOPIC)
    for topic in ("_connect_configs", "_connect_offsets", "__consumer_offsets"):
        with pytest.raises(TopicAuthorizationFailedError):
            _end_offset("capture", topic)


def test_kafka_acls_keep_connect_to_its_own_topics():
    from kafka.errors import TopicAuthorizationFailedError

    assert _end_offset("connect", "_connect_configs") >= 1  # the connectors' configs are there
    with pytest.raises(TopicAuthorizationFailedError):
        _produce("connect", "gold.anything")
