"""Every emulated action through the unmodified official SDK, happy paths and wire shapes."""

from __future__ import annotations

import base64
import time
from datetime import datetime, timedelta

import pytest
from alibabacloud_rds20140815 import models as rds

from rdsssl_reconcile.pki.pem import load_certificate
from rdsssl_reconcile.pki.summary import dns_sans

from .helpers import REGION, describe_ssl, entry, expect_error, host, modify_ssl

pytestmark = pytest.mark.e2e


def wait_settled(emulator, instance_id: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = emulator.admin.instance(instance_id)
        if state["pending"] is None:
            return state
        time.sleep(0.05)
    raise AssertionError(f"{instance_id} still busy after {timeout} s")


def test_describe_instances_lists_region_with_sdk_model_fields(emulator, client):
    emulator.admin.add_instances(
        [
            entry("pgm-one", engine_version="13.0"),
            entry("pgm-two", instance_type="Readonly", master_instance_id="pgm-one"),
            entry("pgm-elsewhere", region="cn-beijing"),
            entry("rm-mysql", engine="MySQL", engine_version="8.0"),
        ]
    )
    body = client.describe_dbinstances(rds.DescribeDBInstancesRequest(region_id=REGION)).body
    items = body.items.dbinstance
    assert [i.dbinstance_id for i in items] == ["pgm-one", "pgm-two", "rm-mysql"]
    assert body.total_record_count == 3
    assert body.page_number == 1
    assert body.page_record_count == 3
    first = items[0]
    assert (first.engine, first.engine_version, first.dbinstance_status) == ("PostgreSQL", "13.0", "Running")
    assert (first.dbinstance_storage_type, first.pay_type, first.category) == (
        "cloud_essd",
        "Postpaid",
        "HighAvailability",
    )
    assert (first.dbinstance_type, first.lock_mode, first.region_id) == ("Primary", "Unlock", REGION)
    assert first.connection_string == host("pgm-one")
    assert [r.dbinstance_id for r in first.read_only_dbinstance_ids.read_only_dbinstance_id] == ["pgm-two"]
    assert items[1].master_instance_id == "pgm-one"


def test_describe_instances_filters(emulator, client):
    emulator.admin.add_instances(
        [entry("pgm-a"), entry("pgm-b"), entry("rm-c", engine="MySQL", engine_version="8.0"), entry("pgm-d")]
    )
    emulator.admin.set_instance("pgm-d", status="Rebooting")

    def ids(**kwargs):
        body = client.describe_dbinstances(rds.DescribeDBInstancesRequest(region_id=REGION, **kwargs)).body
        return [i.dbinstance_id for i in body.items.dbinstance], body.total_record_count

    assert ids(engine="PostgreSQL") == (["pgm-a", "pgm-b", "pgm-d"], 3)
    assert ids(dbinstance_id="pgm-d,pgm-a,pgm-missing") == (["pgm-a", "pgm-d"], 2)
    assert ids(dbinstance_status="Rebooting") == (["pgm-d"], 1)
    assert ids(dbinstance_type="Readonly") == ([], 0)


def test_describe_instances_requires_region(client):
    expect_error(lambda: client.describe_dbinstances(rds.DescribeDBInstancesRequest()), "MissingRegionId", 400)


def test_page_number_pagination(emulator, client):
    emulator.admin.add_instances([entry(f"pgm-{n:03d}") for n in range(75)])
    seen, number = [], 1
    while True:
        body = client.describe_dbinstances(
            rds.DescribeDBInstancesRequest(region_id=REGION, page_size=30, page_number=number)
        ).body
        assert body.total_record_count == 75
        assert body.page_number == number
        if not body.items.dbinstance:
            break
        seen += [i.dbinstance_id for i in body.items.dbinstance]
        number += 1
    assert seen == [f"pgm-{n:03d}" for n in range(75)]
    assert number == 4  # pages of 30, 30, 15, then an empty page
    default = client.describe_dbinstances(rds.DescribeDBInstancesRequest(region_id=REGION)).body
    assert default.page_record_count == 30  # PageSize defaults to 30


@pytest.mark.parametrize(
    ("field", "value"),
    [("page_size", 0), ("page_size", 101), ("page_number", 0), ("page_number", 2**31), ("page_number", 10**19)],
)
def test_page_parameters_out_of_range(emulator, client, field, value):
    request = rds.DescribeDBInstancesRequest(region_id=REGION, **{field: value})
    expect_error(lambda: client.describe_dbinstances(request), "Parameters.Invalid", 400)


def test_next_token_pagination(emulator, client):
    emulator.admin.add_instances([entry(f"pgm-{n:03d}") for n in range(45)])
    seen, token, calls = [], None, 0
    while True:
        body = client.describe_dbinstances(
            rds.DescribeDBInstancesRequest(region_id=REGION, max_results=20, next_token=token, page_size=5)
        ).body
        calls += 1
        # MaxResults wins over PageSize, and TotalRecordCount counts the current page only (reference §8).
        assert body.total_record_count == len(body.items.dbinstance)
        seen += [i.dbinstance_id for i in body.items.dbinstance]
        token = body.next_token
        if not token:
            break
    assert seen == [f"pgm-{n:03d}" for n in range(45)]
    assert calls == 3
    huge = base64.urlsafe_b64encode(f"offset:{10**30}".encode()).decode()
    for bad in ("!!bad", huge):
        expect_error(
            lambda bad=bad: client.describe_dbinstances(
                rds.DescribeDBInstancesRequest(region_id=REGION, next_token=bad)
            ),
            "Parameters.Invalid",
            400,
        )


def test_describe_attribute(emulator, client):
    emulator.admin.add_instances([entry("pgm-attr", storage_type="cloud_ssd", pay_type="Prepaid", category="Basic")])
    body = client.describe_dbinstance_attribute(rds.DescribeDBInstanceAttributeRequest(dbinstance_id="pgm-attr")).body
    (attribute,) = body.items.dbinstance_attribute
    assert attribute.dbinstance_id == "pgm-attr"
    assert attribute.port == "5432"
    assert (attribute.dbinstance_storage_type, attribute.pay_type, attribute.category) == (
        "cloud_ssd",
        "Prepaid",
        "Basic",
    )
    assert attribute.connection_string == host("pgm-attr")
    expect_error(
        lambda: client.describe_dbinstance_attribute(rds.DescribeDBInstanceAttributeRequest(dbinstance_id="pgm-nope")),
        "InvalidDBInstanceId.NotFound",
        404,
    )


def test_describe_net_info_lists_endpoints(emulator, client):
    endpoints = [
        {"host": host("pgm-net"), "type": "Private", "port": 5432},
        {"host": "pgm-neto.pg.rds.aliyuncs.com", "type": "Public", "port": 3433},
        {"host": "pgm-netrw.pg.rds.aliyuncs.com", "type": "Private", "connection_string_type": "ReadWriteSplitting"},
    ]
    emulator.admin.add_instances([entry("pgm-net", endpoints=endpoints)])
    body = client.describe_dbinstance_net_info(rds.DescribeDBInstanceNetInfoRequest(dbinstance_id="pgm-net")).body
    infos = body.dbinstance_net_infos.dbinstance_net_info
    assert [(i.connection_string, i.iptype, i.port, i.connection_string_type) for i in infos] == [
        (host("pgm-net"), "Private", "5432", "Normal"),
        ("pgm-neto.pg.rds.aliyuncs.com", "Public", "3433", "Normal"),
        ("pgm-netrw.pg.rds.aliyuncs.com", "Private", "5432", "ReadWriteSplitting"),
    ]


def test_describe_ssl_when_off_uses_strings(emulator, client):
    emulator.admin.add_instances([entry("pgm-off")])
    body = describe_ssl(client, "pgm-off")
    assert body.sslenabled == "off"
    assert body.require_update == "0"
    assert body.catype == body.connection_string == body.server_cert == body.server_key == ""
    assert body.last_modify_status == "success"
    raw = body.to_map()
    assert all(isinstance(v, str) for v in raw.values())


def test_enable_aliyun_restarts_then_applies(emulator, client):
    emulator.admin.add_instances([entry("pgm-en")])
    emulator.admin.settings(restart_seconds=30)  # long enough to observe "busy" on a loaded machine
    before = datetime.now().astimezone()
    response = modify_ssl(client, "pgm-en", sslenabled=1, catype="aliyun")
    assert set(response.to_map()) == {"RequestId"}

    during = describe_ssl(client, "pgm-en")
    assert during.sslenabled == "off"  # the new configuration is visible only when the restart ends
    assert during.last_modify_status == "setting"
    assert during.modify_status_reason == "Modify DB Instance SSL Config."
    assert emulator.admin.instance("pgm-en")["status"] == "SSL_MODIFYING"
    expect_error(lambda: modify_ssl(client, "pgm-en", sslenabled=0), "IncorrectDBSslStatus", 400)

    emulator.admin.advance_clock(30)
    state = wait_settled(emulator, "pgm-en")
    assert state["status"] == "Running"
    after = describe_ssl(client, "pgm-en")
    assert (after.sslenabled, after.catype, after.connection_string) == ("on", "aliyun", host("pgm-en"))
    assert after.last_modify_status == "success"
    assert after.server_caurl == f"{emulator.endpoint}/_emulator/ca.pem"
    cert = load_certificate(after.server_cert)
    assert dns_sans(cert) == (host("pgm-en"),)
    expires = datetime.fromisoformat(after.sslexpire_time)
    assert timedelta(days=364) < expires - before < timedelta(days=366)
    assert after.sslexpire_time.endswith("Z")
    assert len(after.sslexpire_time) == 20
    assert "PRIVATE KEY" in after.server_key  # the real API returns it (reference §2)
    assert after.require_update == "0"
    (modification,) = emulator.admin.modifications()
    assert modification["outcome"] == "success"
    assert modification["request_id"] == response.request_id
    assert (modification["busy_until"] - modification["accepted_at"]).total_seconds() == pytest.approx(30)


def test_renewing_aliyun_issues_a_new_certificate(emulator, client):
    emulator.admin.add_instances([entry("pgm-renew", ssl={"enabled": True, "ca_type": "aliyun"})])
    first = describe_ssl(client, "pgm-renew")
    modify_ssl(client, "pgm-renew", sslenabled=1, catype="aliyun")
    emulator.admin.advance_clock(1)
    second = describe_ssl(client, "pgm-renew")
    assert second.sslenabled == "on"
    assert second.server_cert != first.server_cert
    assert second.server_key != first.server_key


def test_custom_certificate_with_two_endpoints(emulator, client, pki):
    public = "pgm-twoo.pg.rds.aliyuncs.com"
    endpoints = [{"host": host("pgm-two"), "type": "Private"}, {"host": public, "type": "Public"}]
    emulator.admin.add_instances([entry("pgm-two", endpoints=endpoints)])
    issued = pki.server(host("pgm-two"), public, days=200)
    modify_ssl(
        client,
        "pgm-two",
        f"{host('pgm-two')},{public}",
        sslenabled=1,
        catype="custom",
        server_cert=issued.cert_pem(),
        server_key=issued.key_pem(),
    )
    emulator.admin.advance_clock(1)
    body = describe_ssl(client, "pgm-two")
    assert (body.sslenabled, body.catype) == ("on", "custom")
    assert body.connection_string == f"{host('pgm-two')},{public}"
    assert body.server_cert == issued.cert_pem()
    assert body.sslexpire_time == issued.certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body.sslcreate_time == ""  # documented as valid only for aliyun
    assert body.server_caurl == ""
    state = emulator.admin.instance("pgm-two")
    assert "server_key" not in state["ssl"]
    assert state["ssl"]["server_key_public_sha256"]


def test_client_ca_crl_and_acls_then_disable_clears_everything(emulator, client, pki):
    emulator.admin.add_instances([entry("pgm-cca", ssl={"enabled": True})])
    modify_ssl(
        client,
        "pgm-cca",
        client_caenabled=1,
        client_cacert=pki.client_ca.cert_pem(),
        client_crl_enabled=1,
        client_cert_revocation_list=pki.crl(42),
        acl="verify-full",
        replication_acl="cert",
    )
    emulator.admin.advance_clock(1)
    body = describe_ssl(client, "pgm-cca")
    assert body.sslenabled == "on"
    assert body.catype == "aliyun"
    assert body.client_cacert == pki.client_ca.cert_pem()
    assert "X509 CRL" in body.client_cert_revocation_list
    assert (body.acl, body.replication_acl) == ("verify-full", "cert")

    modify_ssl(client, "pgm-cca", client_crl_enabled=0)
    emulator.admin.advance_clock(1)
    body = describe_ssl(client, "pgm-cca")
    assert body.client_cert_revocation_list == ""
    assert body.client_cacert == pki.client_ca.cert_pem()  # omitted ClientCAEnabled = unchanged

    modify_ssl(client, "pgm-cca", sslenabled=0)
    emulator.admin.advance_clock(1)
    body = describe_ssl(client, "pgm-cca")
    assert body.sslenabled == "off"
    assert body.client_cacert == body.acl == body.replication_acl == body.server_cert == ""


def test_client_ca_disable_clears_crl_and_acls(emulator, client, pki):
    ssl = {"enabled": True, "client_ca_cert": pki.client_ca.cert_pem(), "crl": pki.crl(), "acl": "prefer"}
    emulator.admin.add_instances([entry("pgm-ccd", ssl=ssl)])
    modify_ssl(client, "pgm-ccd", client_caenabled=0)
    emulator.admin.advance_clock(1)
    body = describe_ssl(client, "pgm-ccd")
    assert body.sslenabled == "on"
    assert body.client_cacert == body.client_cert_revocation_list == ""
    assert body.acl == body.replication_acl == "prefer"  # the documented default, once no ACL is set


def test_noop_modify_is_accepted_and_restarts(emulator, client):
    emulator.admin.add_instances([entry("pgm-noop")])
    emulator.admin.settings(restart_seconds=30)
    modify_ssl(client, "pgm-noop")
    assert emulator.admin.instance("pgm-noop")["status"] == "SSL_MODIFYING"
    emulator.admin.advance_clock(31)
    assert describe_ssl(client, "pgm-noop").sslenabled == "off"
    assert len(emulator.admin.modifications()) == 1


def test_missing_ca_type_defaults_to_aliyun_unless_strict(emulator, client):
    emulator.admin.add_instances([entry("pgm-ca1"), entry("pgm-ca2")])
    modify_ssl(client, "pgm-ca1", sslenabled=1)
    emulator.admin.advance_clock(1)
    assert describe_ssl(client, "pgm-ca1").catype == "aliyun"
    emulator.admin.settings(strict_ca_type=True)
    expect_error(lambda: modify_ssl(client, "pgm-ca2", sslenabled=1), "RequiredParam.NotFound", 400)


def test_settings_change_busy_status_and_absent_value(emulator, client):
    emulator.admin.add_instances([entry("pgm-set")])
    emulator.admin.settings(busy_status="Modifying SSL", absent_value="-", restart_seconds=30)
    modify_ssl(client, "pgm-set", sslenabled=1, catype="aliyun")
    assert emulator.admin.instance("pgm-set")["status"] == "Modifying SSL"
    body = describe_ssl(client, "pgm-set")
    assert body.catype == "-"
    assert body.client_cacert_expire_time == "-"


def test_server_key_can_be_withheld(emulator, client):
    emulator.admin.add_instances([entry("pgm-nokey", ssl={"enabled": True})])
    emulator.admin.settings(return_server_key=False)
    body = describe_ssl(client, "pgm-nokey")
    assert body.server_key == ""
    assert "CERTIFICATE" in body.server_cert
