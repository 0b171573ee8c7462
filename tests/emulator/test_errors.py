"""Every documented error case, through the official SDK: its exception, code and HTTP status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alibabacloud_rds20140815 import models as rds
from alibabacloud_tea_openapi.exceptions import ClientException
from cryptography.hazmat.primitives import serialization

from rdsssl_reconcile.pki.authority import KeyType

from .helpers import Pki, describe_ssl, entry, expect_error, host, modify_ssl

pytestmark = pytest.mark.e2e

FLEET = [
    entry("pgm-ok", engine_version="15.0"),
    entry("pgm-pg11", engine_version="11.0"),
    entry("pgm-pg12", engine_version="12.0"),
    entry("pgm-pg96", engine_version="9.6"),
    entry("pgm-local", storage_type="local_ssd"),
    entry("pgm-ephemeral", storage_type="ephemeral_ssd"),
    entry("pgm-cloudssd", storage_type="cloud_ssd"),
    entry("pgm-serverless", pay_type="Serverless", category="serverless_basic"),
    entry("pgm-slcat", category="Serverless_standard"),
    entry("rm-mysql", engine="MySQL", engine_version="8.0"),
    entry("pgm-ro", instance_type="Readonly", master_instance_id="pgm-ok"),
    entry("pgm-ro96", engine_version="9.6", instance_type="Readonly", master_instance_id="pgm-pg96"),
    entry("pgm-rolocal", storage_type="local_ssd", instance_type="Readonly", master_instance_id="pgm-local"),
    entry("pgm-locked", lock_mode="ManualLock"),
    entry("pgm-reboot", status="Rebooting"),
    entry("pgm-setting", last_modify_status="setting"),
    entry("pgm-sslon", ssl={"enabled": True}),
    entry(
        "pgm-rw",
        endpoints=[
            {"host": host("pgm-rw")},
            {"host": "pgm-rwsplit.pg.rds.aliyuncs.com", "connection_string_type": "ReadWriteSplitting"},
            {"host": "pgm-rwo.pg.rds.aliyuncs.com", "type": "Public"},
        ],
    ),
]


@pytest.fixture
def fleet(emulator):
    emulator.admin.add_instances(FLEET)
    return emulator


def _custom(pki: Pki, instance_id: str, *, cert: str | None = None, key: str | None = None) -> dict[str, Any]:
    issued = pki.server(host(instance_id))
    return {
        "sslenabled": 1,
        "catype": "custom",
        "server_cert": issued.cert_pem() if cert is None else cert,
        "server_key": issued.key_pem() if key is None else key,
    }


def _encrypted_key(pki: Pki, instance_id: str) -> dict[str, Any]:
    issued = pki.server(host(instance_id))
    encrypted = issued.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    return _custom(pki, instance_id, cert=issued.cert_pem(), key=encrypted)


def _foreign_key(pki: Pki, instance_id: str) -> dict[str, Any]:
    mine, other = pki.server(host(instance_id)), pki.server(host(instance_id))
    return _custom(pki, instance_id, cert=mine.cert_pem(), key=other.key_pem())


def _sec1_key(pki: Pki, instance_id: str) -> dict[str, Any]:
    issued = pki.server(host(instance_id))
    sec1 = issued.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    assert "BEGIN EC PRIVATE KEY" in sec1
    return _custom(pki, instance_id, cert=issued.cert_pem(), key=sec1)


GARBAGE_CERT = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"

# (name, instance, kwargs for modify_ssl or a builder taking pki, code, status)
MODIFY_CASES: list[tuple[str, str, Any, str, int]] = [
    # ModifyDBInstanceSSL's table: 400 "The DBInstanceId provided does not exist in records." (Describe*: 404)
    ("unknown instance", "pgm-nope", {"sslenabled": 1, "catype": "aliyun"}, "InvalidDBInstanceId.NotFound", 400),
    ("postgres 9.6", "pgm-pg96", {"sslenabled": 1, "catype": "aliyun"}, "IncorrectEngineVersion", 403),
    ("local ssd", "pgm-local", {"sslenabled": 1, "catype": "aliyun"}, "OperationDenied.DBInstanceType", 403),
    ("ephemeral ssd", "pgm-ephemeral", {"sslenabled": 1}, "OperationDenied.DBInstanceType", 403),
    ("serverless pay type", "pgm-serverless", {"sslenabled": 1}, "InvalidInstanceLevel.Malformed", 403),
    ("serverless category", "pgm-slcat", {"sslenabled": 1}, "InvalidInstanceLevel.Malformed", 403),
    ("mysql", "rm-mysql", {"sslenabled": 1}, "InstanceEngineType.NotSupport", 403),
    ("read-only instance, PostgreSQL 9.6", "pgm-ro96", {"sslenabled": 1}, "IncorrectEngineVersion", 403),
    ("read-only instance, local SSD", "pgm-rolocal", {"sslenabled": 1}, "OperationDenied.DBInstanceType", 403),
    ("locked instance", "pgm-locked", {"sslenabled": 1}, "IncorrectDBInstanceLockMode", 403),
    ("not running", "pgm-reboot", {"sslenabled": 1}, "InvalideStatus.Format", 400),
    ("ssl change in progress", "pgm-setting", {"sslenabled": 1}, "IncorrectDBSslStatus", 400),
    ("SSLEnabled=2", "pgm-ok", {"sslenabled": 2}, "InvalidSSLStatus", 400),
    ("unknown CAType", "pgm-ok", {"sslenabled": 1, "catype": "Aliyun"}, "InvalidCAType.NotFound", 400),
    ("custom without key", "pgm-ok", {"sslenabled": 1, "catype": "custom"}, "InvalidServerCertOrPrivateKey", 400),
    ("encrypted key", "pgm-ok", _encrypted_key, "InvalidServerCertOrPrivateKey", 400),
    ("key of another certificate", "pgm-ok", _foreign_key, "InvalidServerCertOrPrivateKey", 400),
    (
        "garbage certificate PEM",
        "pgm-ok",
        lambda pki, i: _custom(pki, i, cert=GARBAGE_CERT),
        "InvalidServerCertOrPrivateKey",
        400,
    ),
    (
        "not PEM at all",
        "pgm-ok",
        lambda pki, i: _custom(pki, i, cert="hello", key="world"),
        "InvalidServerCertOrPrivateKey",
        400,
    ),
    ("SEC1 EC key", "pgm-ok", _sec1_key, "InvalidServerCertOrPrivateKey", 400),
    (
        "endpoint of another instance",
        "pgm-ok",
        lambda pki, i: {"connection_string": host("pgm-pg12"), "sslenabled": 1},
        "Endpoint.NotFound",
        404,
    ),
    (
        "read/write splitting endpoint",
        "pgm-rw",
        lambda pki, i: {"connection_string": "pgm-rwsplit.pg.rds.aliyuncs.com", "sslenabled": 1},
        "Endpoint.NotFound",
        404,
    ),
    (
        "aliyun with two endpoints",
        "pgm-rw",
        lambda pki, i: {"connection_string": f"{host(i)},pgm-rwo.pg.rds.aliyuncs.com", "sslenabled": 1},
        "Endpoint.NotFound",
        404,
    ),
    ("client CA without certificate", "pgm-sslon", {"client_caenabled": 1}, "InvalidClientCACert", 400),
    (
        "client CA not a certificate",
        "pgm-sslon",
        {"client_caenabled": 1, "client_cacert": GARBAGE_CERT},
        "InvalidClientCACert",
        400,
    ),
    ("ClientCAEnabled=2", "pgm-sslon", {"client_caenabled": 2}, "Parameters.Invalid", 400),
    (
        "CRL without client CA",
        "pgm-sslon",
        lambda pki, i: {"client_crl_enabled": 1, "client_cert_revocation_list": pki.crl()},
        "InvalidClientCrl.Permission",
        403,
    ),
    (
        "CRL not a CRL",
        "pgm-sslon",
        lambda pki, i: {
            "client_caenabled": 1,
            "client_cacert": pki.client_ca.cert_pem(),
            "client_crl_enabled": 1,
            "client_cert_revocation_list": pki.client_ca.cert_pem(),
        },
        "InvalidClientCrl",
        400,
    ),
    ("unknown ACL", "pgm-sslon", {"acl": "verify-none"}, "InvalidACL.NotFound", 400),
    ("ACL typo perfer", "pgm-sslon", {"acl": "perfer"}, "InvalidACL.NotFound", 400),
    ("unknown replication ACL", "pgm-sslon", {"replication_acl": "all"}, "InvalidACL.NotFound", 400),
    ("ACL without client CA", "pgm-sslon", {"acl": "cert"}, "InvalidACL.Permission", 403),
    ("replication ACL without client CA", "pgm-sslon", {"replication_acl": "cert"}, "InvalidACL.Permission", 403),
    (
        "verify-full ACL on PostgreSQL 11",
        "pgm-pg11",
        lambda pki, i: {
            "sslenabled": 1,
            "client_caenabled": 1,
            "client_cacert": pki.client_ca.cert_pem(),
            "acl": "verify-full",
        },
        "IncorrectEngineVersion",
        403,
    ),
    (
        "verify-full replication ACL on PostgreSQL 11",
        "pgm-pg11",
        lambda pki, i: {
            "sslenabled": 1,
            "client_caenabled": 1,
            "client_cacert": pki.client_ca.cert_pem(),
            "replication_acl": "verify-full",
        },
        "IncorrectEngineVersion",
        403,
    ),
    (
        "client CA while SSL is off",
        "pgm-ok",
        lambda pki, i: {"client_caenabled": 1, "client_cacert": pki.client_ca.cert_pem()},
        "IncorrectDBSslStatus",
        400,
    ),
    ("ACL while SSL is off", "pgm-ok", {"acl": "cert"}, "IncorrectDBSslStatus", 400),
    (
        "disable SSL and enable client CA",
        "pgm-sslon",
        lambda pki, i: {"sslenabled": 0, "client_caenabled": 1, "client_cacert": pki.client_ca.cert_pem()},
        "IncorrectDBSslStatus",
        400,
    ),
]


@pytest.mark.parametrize(
    ("instance_id", "fields", "code", "status"),
    [pytest.param(i, f, c, s, id=name) for name, i, f, c, s in MODIFY_CASES],
)
def test_modify_refused(fleet, client, pki, instance_id, fields, code, status):
    kwargs = fields(pki, instance_id) if callable(fields) else dict(fields)
    error = expect_error(lambda: modify_ssl(client, instance_id, **kwargs), code, status)
    assert isinstance(error, ClientException)
    assert error.request_id
    assert error.request_id != "None"
    assert fleet.admin.modifications() == []  # a refused modify changes nothing
    (call,) = fleet.admin.calls(action="ModifyDBInstanceSSL")
    assert (call["outcome"], call["http_status"]) == (code, status)


def test_not_running_error_is_configurable(fleet, client):
    fleet.admin.settings(not_running_error="IncorrectDBInstanceState")
    expect_error(lambda: modify_ssl(client, "pgm-reboot", sslenabled=1), "IncorrectDBInstanceState", 403)


@pytest.mark.parametrize("code", ["Endpoint.NotFound", "Parameters.Invalid", "InvalidConnectionString.NotFound"])
def test_read_write_splitting_refusal_is_configurable(fleet, client, code):
    fleet.admin.settings(rw_splitting_error=code)
    status = {"Parameters.Invalid": 400}.get(code, 404)
    refused = lambda: modify_ssl(client, "pgm-rw", connection_string="pgm-rwsplit.pg.rds.aliyuncs.com", sslenabled=1)  # noqa: E731
    expect_error(refused, code, status)


def test_unknown_instance_is_a_400_on_modify_and_a_404_on_describe(fleet, client):
    error = expect_error(lambda: modify_ssl(client, "pgm-nope", sslenabled=1), "InvalidDBInstanceId.NotFound", 400)
    assert "The DBInstanceId provided does not exist in records." in error.message
    error = expect_error(lambda: describe_ssl(client, "pgm-nope"), "InvalidDBInstanceId.NotFound", 404)
    assert "The specified instance is not found." in error.message


def test_cloud_ssd_refusal_is_configurable(fleet, client):
    fleet.admin.settings(cloud_ssd_supported=False)
    expect_error(lambda: modify_ssl(client, "pgm-cloudssd", sslenabled=1), "CloudSSDNotSupport", 403)


def test_readonly_instances_support_ssl_unless_configured_otherwise(fleet, client):
    modify_ssl(client, "pgm-ro", sslenabled=1, catype="aliyun")
    assert len(fleet.admin.modifications()) == 1
    fleet.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-ro").sslenabled == "on"
    fleet.admin.settings(readonly_ssl_supported=False)
    expect_error(lambda: modify_ssl(client, "pgm-ro", sslenabled=0), "OperationDenied.DBInstanceType", 403)
    expect_error(lambda: describe_ssl(client, "pgm-ro"), "OperationDenied.DBInstanceType", 403)


def test_verify_full_accepted_on_postgresql_12(fleet, client, pki):
    modify_ssl(
        client,
        "pgm-pg12",
        sslenabled=1,
        catype="aliyun",
        client_caenabled=1,
        client_cacert=pki.client_ca.cert_pem(),
        acl="verify-full",
        replication_acl="verify-full",
    )
    fleet.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-pg12").acl == "verify-full"


def test_pkcs1_rsa_key_is_accepted(fleet, client, pki):
    issued = pki.server(host("pgm-ok"), key_type=KeyType.RSA_2048)
    pkcs1 = issued.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    assert "BEGIN RSA PRIVATE KEY" in pkcs1
    modify_ssl(client, "pgm-ok", sslenabled=1, catype="custom", server_cert=issued.cert_pem(), server_key=pkcs1)
    assert len(fleet.admin.modifications()) == 1


def test_hostname_check_is_configurable(fleet, client, pki):
    fleet.admin.settings(check_custom_cert_hostname=True)
    kwargs = _custom(pki, "pgm-pg12")  # a certificate for another instance's endpoint
    expect_error(lambda: modify_ssl(client, "pgm-ok", **kwargs), "InvalidServerCertOrPrivateKey", 400)
    modify_ssl(client, "pgm-ok", **_custom(pki, "pgm-ok"))


def _call(client: Any, name: str) -> Callable[[], Any]:
    return {
        "ssl": lambda: describe_ssl(client, name),
        "modify-no-connection-string": lambda: client.modify_dbinstance_ssl(
            rds.ModifyDBInstanceSSLRequest(dbinstance_id=name, sslenabled=1)
        ),
        "modify-no-instance": lambda: client.modify_dbinstance_ssl(
            rds.ModifyDBInstanceSSLRequest(connection_string=host("pgm-ok"), sslenabled=1)
        ),
        "ssl-no-instance": lambda: client.describe_dbinstance_ssl(rds.DescribeDBInstanceSSLRequest()),
        "net-info": lambda: client.describe_dbinstance_net_info(
            rds.DescribeDBInstanceNetInfoRequest(dbinstance_id=name)
        ),
    }


@pytest.mark.parametrize(
    ("call", "instance_id", "code", "status"),
    [
        ("modify-no-connection-string", "pgm-ok", "MissingConnectionString", 400),
        ("modify-no-instance", "pgm-ok", "MissingDBInstanceId", 400),
        ("ssl-no-instance", "pgm-ok", "MissingDBInstanceId", 400),
        ("ssl", "pgm-nope", "InvalidDBInstanceId.NotFound", 404),
        ("net-info", "pgm-nope", "InvalidDBInstanceId.NotFound", 404),
        ("ssl", "rm-mysql", "InstanceEngineType.NotSupport", 403),
        ("ssl", "pgm-pg96", "IncorrectEngineVersion", 403),
        ("ssl", "pgm-local", "OperationDenied.DBInstanceType", 403),
        ("ssl", "pgm-serverless", "InvalidInstanceLevel.Malformed", 403),
        ("ssl", "pgm-ro96", "IncorrectEngineVersion", 403),
    ],
)
def test_describe_and_parameter_errors(fleet, client, call, instance_id, code, status):
    expect_error(_call(client, instance_id)[call], code, status)


def test_describe_ssl_works_while_busy_or_locked(fleet, client):
    assert describe_ssl(client, "pgm-reboot").sslenabled == "off"
    assert describe_ssl(client, "pgm-locked").sslenabled == "off"
