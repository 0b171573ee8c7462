"""The emulator's defaults from the public record, and every open reading as a switchable setting.

Each test names the public source of the rule it checks (a document title or a provider file), or the
open question whose readings it walks (docs/emulator.md, "Open questions").
"""

from __future__ import annotations

from typing import Any

import pytest
from alibabacloud_rds20140815 import models as rds

from rdsssl_reconcile.emulator import AdminError, spawn_emulator_process
from rdsssl_reconcile.emulator.settings import EmulatorSettings

from .helpers import REGION, Pki, describe_ssl, entry, expect_error, host, modify_ssl

pytestmark = pytest.mark.e2e

PUBLIC = "pgm-two-o.pg.rds.aliyuncs.com"


def two_endpoints(instance_id: str) -> dict[str, Any]:
    return entry(instance_id, endpoints=[{"host": host(instance_id)}, {"host": PUBLIC, "type": "Public"}])


def busy_seconds(emulator: Any, instance_id: str) -> float:
    (record,) = [m for m in emulator.admin.modifications() if m["instance_id"] == instance_id]
    return float((record["busy_until"] - record["accepted_at"]).total_seconds())


def describe_instances(client: Any, ids: str) -> Any:
    request = rds.DescribeDBInstancesRequest(region_id=REGION, dbinstance_id=ids, page_size=100)
    return client.describe_dbinstances(request).body


# ------------------------------------------------------------------------------------------ defaults


def test_defaults_follow_the_public_record() -> None:
    settings = EmulatorSettings()
    assert settings.busy_status == "SSL_MODIFYING"  # alicloud/resource_alicloud_db_instance.go waits on it
    assert settings.not_running_error == "InvalideStatus.Format"  # the API page "ModifyDBInstanceSSL"
    assert settings.readonly_ssl_supported is True  # ..._db_readonly_instance_test.go
    assert settings.acl_busy_seconds == pytest.approx(60.0)  # "Forcefully enable SSL connections"
    assert (settings.describe_ids, settings.connection_string_format) == ("list", "comma")


def test_busy_status_is_ssl_modifying(emulator, client):
    emulator.admin.add_instances([entry("pgm-busy")])
    emulator.admin.settings(restart_seconds=60)
    modify_ssl(client, "pgm-busy", sslenabled=1, catype="aliyun")
    (item,) = describe_instances(client, "pgm-busy").items.dbinstance
    assert item.dbinstance_status == "SSL_MODIFYING"
    emulator.admin.settings(busy_status="SSLModifying")  # the MongoDB/PolarDB spelling, still available
    emulator.admin.add_instances([entry("pgm-busy2")])
    modify_ssl(client, "pgm-busy2", sslenabled=1, catype="aliyun")
    (item,) = describe_instances(client, "pgm-busy2").items.dbinstance
    assert item.dbinstance_status == "SSLModifying"


def test_acl_reads_prefer_once_ssl_is_on_without_a_client_ca(emulator, client):
    """ "Forcefully enable SSL connections"; the provider's PG13 test reads acl = prefer after enabling."""
    emulator.admin.add_instances([entry("pgm-acl")])
    off = describe_ssl(client, "pgm-acl")
    assert off.acl == off.replication_acl == ""
    modify_ssl(client, "pgm-acl", sslenabled=1, catype="aliyun")
    emulator.admin.advance_clock(1)
    on = describe_ssl(client, "pgm-acl")
    assert (on.sslenabled, on.acl, on.replication_acl, on.client_cacert) == ("on", "prefer", "prefer", "")


@pytest.mark.parametrize("field", ["acl", "replication_acl"])
def test_setting_an_acl_still_needs_the_client_ca(emulator, client, field):
    emulator.admin.add_instances([entry("pgm-aclca", ssl={"enabled": True})])
    expect_error(lambda: modify_ssl(client, "pgm-aclca", **{field: "prefer"}), "InvalidACL.Permission", 403)


def test_read_only_instance_takes_ssl_a_client_ca_a_crl_and_acls(emulator, client, pki: Pki):
    """The provider's PostgreSQL read-only acceptance test, step by step, each request partial."""
    emulator.admin.add_instances([entry("pgm-p"), entry("pgm-r", instance_type="Readonly", master_instance_id="pgm-p")])
    steps: list[dict[str, Any]] = [
        {"sslenabled": 1, "catype": "aliyun"},
        {"client_caenabled": 1, "client_cacert": pki.client_ca.cert_pem()},
        {"client_crl_enabled": 1, "client_cert_revocation_list": pki.crl()},
        {"acl": "cert", "replication_acl": "cert"},
    ]
    for step in steps:
        modify_ssl(client, "pgm-r", **step)
        emulator.admin.advance_clock(1)
    body = describe_ssl(client, "pgm-r")
    assert body.sslenabled == "on"
    assert body.client_cacert.strip() == pki.client_ca.cert_pem().strip()
    assert "BEGIN X509 CRL" in body.client_cert_revocation_list
    assert (body.acl, body.replication_acl) == ("cert", "cert")
    assert describe_ssl(client, "pgm-p").sslenabled == "off"  # the primary is untouched


# ------------------------------------------------------------------------------------------ partial modifies


def _cloud_cert(client: Any, instance_id: str) -> tuple[str, str]:
    body = describe_ssl(client, instance_id)
    return body.server_cert, body.sslexpire_time


@pytest.mark.parametrize(
    ("partial", "fields"),
    [
        pytest.param(
            lambda pki: {"client_caenabled": 1, "client_cacert": pki.server_ca.cert_pem()},
            {"client_ca_cert"},
            id="client-ca",
        ),
        pytest.param(lambda pki: {"acl": "verify-ca", "replication_acl": "cert"}, {"acl"}, id="acls"),
        pytest.param(
            lambda pki: {"client_crl_enabled": 1, "client_cert_revocation_list": pki.crl(7)}, {"crl"}, id="crl"
        ),
    ],
)
def test_partial_modify_changes_only_its_fields_and_keeps_the_cloud_certificate(
    emulator, client, pki: Pki, partial, fields
):
    ssl = {"enabled": True, "client_ca_cert": pki.client_ca.cert_pem(), "crl": pki.crl(), "acl": "cert"}
    emulator.admin.add_instances([entry("pgm-part", ssl=ssl)])
    before_cert = _cloud_cert(client, "pgm-part")
    before = emulator.admin.instance("pgm-part")["ssl"]
    modify_ssl(client, "pgm-part", **partial(pki))
    emulator.admin.advance_clock(181)
    assert _cloud_cert(client, "pgm-part") == before_cert  # same certificate PEM and expiry: nothing re-issued
    after = emulator.admin.instance("pgm-part")["ssl"]
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed - {"replication_acl"} == fields


def test_acl_only_modify_is_busy_about_a_minute_and_never_reissues(emulator, client, pki: Pki):
    """ "Forcefully enable SSL connections": an ACL change takes about 1 minute, the others about 3."""
    ssl = {"enabled": True, "client_ca_cert": pki.client_ca.cert_pem()}
    emulator.admin.add_instances([entry("pgm-aclmin", ssl=ssl), entry("pgm-camin", ssl={"enabled": True})])
    emulator.admin.settings(restart_seconds=180)
    modify_ssl(client, "pgm-aclmin", acl="cert")
    modify_ssl(client, "pgm-camin", client_caenabled=1, client_cacert=pki.client_ca.cert_pem())
    assert busy_seconds(emulator, "pgm-aclmin") == pytest.approx(60.0)
    assert busy_seconds(emulator, "pgm-camin") == pytest.approx(180.0)
    assert emulator.admin.instance("pgm-aclmin")["status"] == "SSL_MODIFYING"
    emulator.admin.advance_clock(61)
    assert emulator.admin.instance("pgm-aclmin")["status"] == "Running"
    assert emulator.admin.instance("pgm-camin")["status"] == "SSL_MODIFYING"


def test_acl_restart_scales_with_restart_seconds_unless_set(emulator, client, pki: Pki):
    ssl = {"enabled": True, "client_ca_cert": pki.client_ca.cert_pem()}
    emulator.admin.add_instances([entry("pgm-s1", ssl=ssl), entry("pgm-s2", ssl=ssl)])
    emulator.admin.settings(restart_seconds=0.6)
    modify_ssl(client, "pgm-s1", replication_acl="cert")
    assert busy_seconds(emulator, "pgm-s1") == pytest.approx(0.2)
    emulator.admin.settings(acl_restart_seconds=7)
    modify_ssl(client, "pgm-s2", acl="cert")
    assert busy_seconds(emulator, "pgm-s2") == pytest.approx(7.0)
    assert emulator.admin.settings(acl_restart_seconds=None)["acl_restart_seconds"] is None  # scaled again


def test_server_certificate_only_modify_rotates_a_custom_certificate(emulator, client, pki: Pki):
    first, second = pki.server(host("pgm-rot"), PUBLIC), pki.server(host("pgm-rot"), PUBLIC)
    instance = two_endpoints("pgm-rot")
    instance["endpoints"][1]["host"] = PUBLIC
    emulator.admin.add_instances([instance])
    modify_ssl(
        client,
        "pgm-rot",
        sslenabled=1,
        catype="custom",
        server_cert=first.cert_pem(),
        server_key=first.key_pem(),
        client_caenabled=1,
        client_cacert=pki.client_ca.cert_pem(),
    )
    emulator.admin.advance_clock(1)
    modify_ssl(client, "pgm-rot", server_cert=second.cert_pem(), server_key=second.key_pem())
    emulator.admin.advance_clock(1)
    body = describe_ssl(client, "pgm-rot")
    assert body.catype == "custom"
    assert body.server_cert.strip() == second.cert_pem().strip()
    assert body.client_cacert  # the client CA is kept
    assert body.connection_string == host("pgm-rot")


def test_client_only_modify_keeps_the_protected_endpoint_whatever_connection_string_names(emulator, client, pki):
    """The provider sends the instance's ConnectionString with every partial change."""
    instance = two_endpoints("pgm-keep")
    instance["ssl"] = {"enabled": True, "endpoint": PUBLIC}
    instance["endpoints"][1]["host"] = PUBLIC
    emulator.admin.add_instances([instance])
    modify_ssl(client, "pgm-keep", client_caenabled=1, client_cacert=pki.client_ca.cert_pem())
    emulator.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-keep").connection_string == PUBLIC


# ------------------------------------------------------------------------------------------ describe_ids


FLEET_IDS = ["pgm-i1", "pgm-i2", "pgm-i3"]


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        ("list", ["pgm-i1", "pgm-i3"]),
        ("first", ["pgm-i1"]),
        ("ignored", FLEET_IDS),
        ("literal", []),
    ],
)
def test_describe_ids_readings(emulator, client, reading, expected):
    emulator.admin.add_instances([entry(i) for i in FLEET_IDS])
    emulator.admin.settings(describe_ids=reading)
    body = describe_instances(client, "pgm-i1,pgm-i3")
    assert [i.dbinstance_id for i in body.items.dbinstance] == expected
    assert body.total_record_count == len(expected)
    # One id is one id under every reading.
    assert [i.dbinstance_id for i in describe_instances(client, "pgm-i2").items.dbinstance] == ["pgm-i2"]


def test_describe_ids_error_reading_refuses_a_list(emulator, client):
    emulator.admin.add_instances([entry(i) for i in FLEET_IDS])
    emulator.admin.settings(describe_ids="error")
    expect_error(lambda: describe_instances(client, "pgm-i1,pgm-i2"), "InvalidDBInstanceId.Malformed", 400)
    assert [i.dbinstance_id for i in describe_instances(client, "pgm-i3").items.dbinstance] == ["pgm-i3"]


# ------------------------------------------------------------------------------------------ connection_string_format


def _custom_request(pki: Pki, instance_id: str, connection_string: str) -> dict[str, Any]:
    issued = pki.server(host(instance_id), PUBLIC)
    return {
        "connection_string": connection_string,
        "sslenabled": 1,
        "catype": "custom",
        "server_cert": issued.cert_pem(),
        "server_key": issued.key_pem(),
    }


@pytest.mark.parametrize(
    ("reading", "separator"),
    [("comma", ","), ("semicolon", ";")],
)
def test_endpoint_lists_in_the_reading_separator(emulator, client, pki: Pki, reading, separator):
    emulator.admin.add_instances([two_endpoints("pgm-two")])
    emulator.admin.settings(connection_string_format=reading)
    other = ";" if separator == "," else ","
    refused = _custom_request(pki, "pgm-two", f"{host('pgm-two')}{other}{PUBLIC}")
    expect_error(lambda: modify_ssl(client, "pgm-two", **refused), "Endpoint.NotFound", 404)
    modify_ssl(client, "pgm-two", **_custom_request(pki, "pgm-two", f"{host('pgm-two')}{separator}{PUBLIC}"))
    emulator.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-two").connection_string == f"{host('pgm-two')}{separator}{PUBLIC}"
    assert emulator.admin.instance("pgm-two")["protected_hosts"] == [host("pgm-two"), PUBLIC]


def test_certificate_sans_reading(emulator, client, pki: Pki):
    emulator.admin.add_instances([two_endpoints("pgm-two")])
    emulator.admin.settings(connection_string_format="certificate-sans")
    for listed in (f"{host('pgm-two')},{PUBLIC}", f"{host('pgm-two')};{PUBLIC}"):
        request = _custom_request(pki, "pgm-two", listed)
        expect_error(lambda r=request: modify_ssl(client, "pgm-two", **r), "Endpoint.NotFound", 404)
    modify_ssl(client, "pgm-two", **_custom_request(pki, "pgm-two", PUBLIC))
    emulator.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-two").connection_string == PUBLIC  # the endpoint the request named
    assert emulator.admin.instance("pgm-two")["protected_hosts"] == [PUBLIC, host("pgm-two")]  # the SANs' reach


@pytest.mark.parametrize("reading", ["comma", "semicolon", "certificate-sans"])
def test_single_endpoint_requests_work_under_every_reading(emulator, client, pki: Pki, reading):
    emulator.admin.add_instances([two_endpoints("pgm-one"), entry("pgm-cloud")])
    emulator.admin.settings(connection_string_format=reading)
    modify_ssl(client, "pgm-one", **_custom_request(pki, "pgm-one", host("pgm-one")))
    modify_ssl(client, "pgm-cloud", sslenabled=1, catype="aliyun")
    emulator.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-one").connection_string == host("pgm-one")
    assert describe_ssl(client, "pgm-cloud").connection_string == host("pgm-cloud")


# ------------------------------------------------------------------------------------------ switching


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("describe_ids", "some"),
        ("connection_string_format", "pipe"),
        ("rw_splitting_error", "InvalidConnectionString.NotSupport"),
        ("not_running_error", "Busy"),
        ("acl_restart_seconds", -1),
        ("acl_restart_seconds", "60"),
        ("busy_status", ""),
        ("busy_status", "Running"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(emulator, name, value):
    with pytest.raises(AdminError) as caught:
        emulator.admin.settings(**{name: value})
    assert caught.value.status == 400
    assert name in caught.value.message


def test_readings_switch_through_emulator_serve_options(tmp_path):
    extra = ["--describe-ids", "literal", "--connection-string-format", "semicolon", "--busy-status", "SSLModifying"]
    extra += ["--setting", "acl_restart_seconds=5", "--setting", "rw_splitting_error=Parameters.Invalid"]
    with spawn_emulator_process(extra_args=extra, output_dir=tmp_path) as process:
        settings = process.admin.settings()
    assert {k: settings[k] for k in ("describe_ids", "connection_string_format", "busy_status")} == {
        "describe_ids": "literal",
        "connection_string_format": "semicolon",
        "busy_status": "SSLModifying",
    }
    assert (settings["acl_restart_seconds"], settings["rw_splitting_error"]) == (5, "Parameters.Invalid")
