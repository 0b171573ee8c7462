"""The gateway: ACS3-HMAC-SHA256 as the SDK signs it, AK and STS, and every way a request can be wrong.

Tampering happens at the HTTP level: a request is signed with the SDK's own signing function, then its
query or one signed header is changed before it is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alibabacloud_rds20140815 import models as rds
from alibabacloud_tea_openapi import utils_models as open_api_models
from alibabacloud_tea_util.models import RuntimeOptions

from rdsssl_reconcile.emulator.app import EmulatorApp
from rdsssl_reconcile.emulator.auth import AccessKey, Authenticator
from rdsssl_reconcile.emulator.errors import ServiceError
from rdsssl_reconcile.emulator.testing import make_sdk_client

from .helpers import REGION, describe_ssl, entry, expect_error, send, sign

pytestmark = pytest.mark.e2e


@pytest.fixture
def seeded(emulator):
    emulator.admin.add_instances([entry("pgm-auth")])
    return emulator


def signed_describe(emulator, **kwargs):
    return sign(
        emulator.host_port,
        "DescribeDBInstanceSSL",
        {"DBInstanceId": "pgm-auth"},
        access_key_id=kwargs.pop("access_key_id", emulator.access_key_id),
        access_key_secret=kwargs.pop("access_key_secret", emulator.access_key_secret),
        **kwargs,
    )


def test_hand_signed_request_is_accepted(seeded):
    status, body, headers = send(seeded.host_port, signed_describe(seeded))
    assert status == 200, body
    assert body["SSLEnabled"] == "off"
    assert headers["content-type"] == "application/json"
    assert headers["x-acs-request-id"] == body["RequestId"]


def test_values_needing_percent_encoding_verify(seeded):
    # The SDK sends '+' for a space (urlencode); the canonical form uses %20 (reference §7.3).
    weird = "a b+c/d=e*f~g\nh"
    signed = sign(
        seeded.host_port,
        "DescribeDBInstances",
        {"RegionId": REGION, "DBInstanceId": weird, "Engine": "PostgreSQL"},
        access_key_id=seeded.access_key_id,
        access_key_secret=seeded.access_key_secret,
    )
    status, body, _ = send(seeded.host_port, signed)
    assert status == 200, body
    assert body["TotalRecordCount"] == 0


def test_wrong_secret_fails_through_the_sdk(seeded):
    client = make_sdk_client(seeded.host_port, seeded.access_key_id, "not-the-secret")
    expect_error(lambda: describe_ssl(client, "pgm-auth"), "SignatureDoesNotMatch", 400)


def test_unknown_access_key_fails_through_the_sdk(seeded):
    client = make_sdk_client(seeded.host_port, "LTAI-unknown", seeded.access_key_secret)
    expect_error(lambda: describe_ssl(client, "pgm-auth"), "InvalidAccessKeyId.NotFound", 404)


def test_sts_credentials_work_and_a_bad_token_fails(seeded):
    assert describe_ssl(seeded.sdk_client(sts=True), "pgm-auth").sslenabled == "off"
    sts = seeded.sts
    bad = make_sdk_client(seeded.host_port, sts.access_key_id, sts.access_key_secret, security_token="stolen")
    expect_error(lambda: describe_ssl(bad, "pgm-auth"), "InvalidSecurityToken.MismatchWithAccessKey", 400)
    no_token = make_sdk_client(seeded.host_port, sts.access_key_id, sts.access_key_secret)
    expect_error(lambda: describe_ssl(no_token, "pgm-auth"), "InvalidSecurityToken.MismatchWithAccessKey", 400)
    (last,) = seeded.admin.calls()[-1:]
    assert last["access_key_id"] is None  # refused before it was authenticated


def test_tampered_query_value_fails(seeded):
    signed = signed_describe(seeded)
    signed.raw_query = "DBInstanceId=pgm-other"
    status, body, _ = send(seeded.host_port, signed)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


def test_added_query_parameter_fails(seeded):
    signed = signed_describe(seeded)
    signed.raw_query += "&ServerKey=x"
    status, body, _ = send(seeded.host_port, signed)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("host", "127.0.0.1:1"),
        ("x-acs-version", "2014-08-16"),
        ("x-acs-action", "DescribeDBInstanceNetInfo"),
        ("user-agent", "curl/8"),
        ("x-acs-date", "five-seconds-ago"),
        ("x-acs-signature-nonce", "0123456789abcdef"),
        ("accept", "text/xml"),
    ],
)
def test_each_signed_header_tampered_fails(seeded, header, value):
    # The tampered date is computed here, not in the parameter list: a value taken at
    # collection time differs between pytest-xdist workers and breaks the run.
    if value == "five-seconds-ago":
        value = (datetime.now(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signed = signed_describe(seeded)
    assert signed.headers[header] != value
    signed.headers[header] = value
    status, body, _ = send(seeded.host_port, signed)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


def test_tampered_body_hash_header_fails(seeded):
    signed = signed_describe(seeded)
    signed.headers["x-acs-content-sha256"] = "0" * 64
    status, body, _ = send(seeded.host_port, signed)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


def test_tampered_security_token_fails(seeded):
    sts = seeded.sts
    signed = signed_describe(
        seeded,
        access_key_id=sts.access_key_id,
        access_key_secret=sts.access_key_secret,
        security_token=sts.security_token,
    )
    assert send(seeded.host_port, signed)[0] == 200
    again = signed_describe(
        seeded,
        access_key_id=sts.access_key_id,
        access_key_secret=sts.access_key_secret,
        security_token=sts.security_token,
    )
    again.headers["x-acs-accesskey-id"] = "STS.someone-else"
    status, body, _ = send(seeded.host_port, again)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")
    third = signed_describe(
        seeded,
        access_key_id=sts.access_key_id,
        access_key_secret=sts.access_key_secret,
        security_token=sts.security_token,
    )
    third.headers["x-acs-security-token"] = "another-token"
    status, body, _ = send(seeded.host_port, third)
    assert (status, body["Code"]) == (400, "SignatureDoesNotMatch")


def test_body_hash_mismatch(seeded):
    signed = signed_describe(seeded, extra_headers={"content-type": "application/x-www-form-urlencoded"})
    signed.body = b"DBInstanceId=pgm-other"  # the signed x-acs-content-sha256 is the empty body's
    status, body, _ = send(seeded.host_port, signed)
    assert (status, body["Code"]) == (400, "ContentSHA256NotMatch")


def test_signed_body_is_accepted(seeded):
    form = b"DBInstanceId=pgm-auth"
    signed = sign(
        seeded.host_port,
        "DescribeDBInstanceSSL",
        {},
        access_key_id=seeded.access_key_id,
        access_key_secret=seeded.access_key_secret,
        body=form,
        extra_headers={"content-type": "application/x-www-form-urlencoded"},
    )
    status, body, _ = send(seeded.host_port, signed)
    assert status == 200, body


@pytest.mark.parametrize("minutes", [16, -16])
def test_stale_or_future_date_is_refused(seeded, minutes):
    stamp = datetime.now(UTC) - timedelta(minutes=minutes)
    status, body, _ = send(seeded.host_port, signed_describe(seeded, date=stamp))
    assert (status, body["Code"]) == (400, "InvalidTimeStamp.Expired")


def test_date_within_skew_is_accepted(seeded):
    stamp = datetime.now(UTC) - timedelta(minutes=14)
    assert send(seeded.host_port, signed_describe(seeded, date=stamp))[0] == 200


def test_gateway_uses_real_time_not_the_business_clock(seeded):
    seeded.admin.advance_clock(365 * 86400)
    assert describe_ssl(seeded.sdk_client(), "pgm-auth").sslenabled == "off"


def test_reused_nonce_is_refused(seeded):
    first = signed_describe(seeded, nonce="nonce-once")
    assert send(seeded.host_port, first)[0] == 200
    replay = signed_describe(seeded, nonce="nonce-once")
    status, body, _ = send(seeded.host_port, replay)
    assert (status, body["Code"]) == (400, "SignatureNonceUsed")


def test_missing_or_foreign_authorization_is_incomplete(seeded):
    signed = signed_describe(seeded)
    del signed.headers["Authorization"]
    status, body, _ = send(seeded.host_port, signed)
    assert (status, body["Code"]) == (400, "IncompleteSignature")
    signed = signed_describe(seeded)
    signed.headers["Authorization"] = signed.headers["Authorization"].replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3")
    assert send(seeded.host_port, signed)[1]["Code"] == "IncompleteSignature"


def test_unsigned_acs_header_is_refused(seeded):
    signed = signed_describe(seeded)
    signed.headers["x-acs-injected"] = "1"
    status, body, _ = send(seeded.host_port, signed)
    assert (status, body["Code"]) == (400, "IncompleteSignature")


def test_unknown_action_through_the_sdk(seeded):
    client = seeded.sdk_client()
    params = open_api_models.Params(
        action="DeleteDBInstance",
        version="2014-08-15",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    request = open_api_models.OpenApiRequest(query={"DBInstanceId": "pgm-auth"})
    expect_error(lambda: client.call_api(params, request, RuntimeOptions()), "InvalidApi.NotFound", 404)
    (call,) = seeded.admin.calls(action="DeleteDBInstance")
    assert call["outcome"] == "InvalidApi.NotFound"


def test_admin_path_is_outside_the_action_namespace(seeded):
    # Every SDK call is POST / with x-acs-action; an action named like an admin route is just unknown.
    client = seeded.sdk_client()
    params = open_api_models.Params(
        action="_emulator/reset",
        version="2014-08-15",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    expect_error(
        lambda: client.call_api(params, open_api_models.OpenApiRequest(query={}), RuntimeOptions()),
        "InvalidApi.NotFound",
        404,
    )
    assert seeded.admin.instance("pgm-auth")["id"] == "pgm-auth"


def test_sdk_request_against_wrong_version_header(seeded):
    signed = sign(
        seeded.host_port,
        "DescribeDBInstanceSSL",
        {"DBInstanceId": "pgm-auth"},
        access_key_id=seeded.access_key_id,
        access_key_secret=seeded.access_key_secret,
        extra_headers={"x-acs-version": "2020-01-01"},
    )
    status, body, _ = send(seeded.host_port, signed)
    assert (status, body["Code"]) == (400, "InvalidVersion")


def test_overridden_credentials(pki):
    from rdsssl_reconcile.emulator import run_emulator

    with run_emulator(access_key_id="my-ak", access_key_secret="my-secret") as emu:
        emu.admin.add_instances([entry("pgm-x")])
        assert describe_ssl(make_sdk_client(emu.host_port, "my-ak", "my-secret"), "pgm-x").sslenabled == "off"
        default = make_sdk_client(emu.host_port, "emulator-access-key-id", "emulator-access-key-secret")
        expect_error(lambda: describe_ssl(default, "pgm-x"), "InvalidAccessKeyId.NotFound", 404)


def test_describe_instances_request_model_roundtrip(seeded):
    body = seeded.sdk_client().describe_dbinstances(rds.DescribeDBInstancesRequest(region_id=REGION)).body
    assert body.items.dbinstance[0].dbinstance_id == "pgm-auth"


def test_nonce_is_remembered_as_long_as_its_request_can_pass_the_date_check():
    # A client clock 800 s ahead: its request stays acceptable until 1,700 s after it arrived.
    # Forgetting the nonce after 900 s would let a captured copy be replayed.
    key = AccessKey(access_key_id="ak", access_key_secret="secret")
    wall = [1_800_000_000.0]
    auth = Authenticator((key,), max_skew_seconds=900, nonce_ttl_seconds=900, wall_clock=lambda: wall[0])
    ahead = datetime.fromtimestamp(wall[0] + 800, UTC)
    signed = sign(
        "127.0.0.1:1", "DescribeDBInstanceSSL", {}, access_key_id="ak", access_key_secret="secret", date=ahead
    )

    def verify():
        return auth.verify(
            method=signed.method,
            path=signed.path,
            raw_query=signed.raw_query,
            headers={k.lower(): v for k, v in signed.headers.items()},
            body=signed.body,
        )

    assert verify().access_key_id == "ak"
    wall[0] += 1000
    with pytest.raises(ServiceError) as refused:
        verify()
    assert refused.value.code == "SignatureNonceUsed"
    wall[0] += 701  # now the date itself is too old: refused for that reason, and the nonce may be forgotten
    with pytest.raises(ServiceError) as expired:
        verify()
    assert expired.value.code == "InvalidTimeStamp.Expired"


def test_gateway_settings_reach_the_authenticator():
    app = EmulatorApp.create()
    app.update_settings(nonce_ttl_seconds=5000, max_clock_skew_seconds=60)
    assert (app.auth.nonce_ttl_seconds, app.auth.max_skew_seconds) == (5000, 60)
