"""``validate`` and ``plan`` through the official SDK against the emulator (issue: the restart-aware plan)."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from rdsssl_reconcile.emulator import RunningEmulator
from tests.e2e.conftest import (
    CliResult,
    Pki,
    aliyun_spec,
    assert_no_key_material,
    endpoint_of,
    instance_entry,
    run_subprocess,
    write_spec,
)

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]

Cli = Callable[..., CliResult]


def test_demo_specs_plan_on_a_fresh_checkout(tmp_path: Path) -> None:
    """The README's first command: demo specs against the embedded emulator, as a real process."""
    from rdsssl_reconcile.emulator.settings import EmulatorSettings

    if not EmulatorSettings().readonly_ssl_supported:
        pytest.skip(
            "the demo's read-only instance needs the emulator default readonly_ssl_supported=true (h9-emulator)"
        )
    shutil.copytree(REPO / "specs", tmp_path / "specs", ignore=shutil.ignore_patterns(".state"))
    result = run_subprocess(["plan", "--detailed-exitcode"], cwd=tmp_path)
    assert result.code == 2, result.text
    out = result.out
    assert out.startswith("Target: embedded emulator at http://127.0.0.1:")
    assert "pgm-demo-orders (cn-hangzhou)" in out
    assert "RESTART required (~3 min)" in out
    assert "= pgm-demo-payments" in out
    assert "in sync" in out
    assert "! pgm-demo-legacy" in out
    assert "PostgreSQL 9.6: SSL needs PostgreSQL 10 or later" in out
    assert "~ pgm-demo-orders-ro (cn-hangzhou) will be changed: RESTART required (~3 min)" in out
    assert "Plan: 2 to change, 2 restarts (~3 min each), 2 in sync, 2 ineligible." in out
    assert (tmp_path / "specs" / ".state" / "emulator.json").stat().st_mode & 0o777 == 0o600


def test_plan_reads_only_declared_instances_with_two_calls_each(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry(f"pgm-p{i}") for i in range(5)] + [instance_entry("pgm-other")])
    write_spec(spec_dir, aliyun_spec("pgm-p0", "pgm-p1", "pgm-p2", "pgm-p3", "pgm-p4"))
    cloud_env.admin.clear_calls()
    result = cli("plan", str(spec_dir))
    assert result.code == 0, result.text
    calls = cloud_env.admin.calls()
    by_action: dict[str, int] = {}
    for call in calls:
        by_action[call["action"]] = by_action.get(call["action"], 0) + 1
    assert by_action == {"DescribeDBInstances": 1, "DescribeDBInstanceSSL": 5, "DescribeDBInstanceNetInfo": 5}
    assert not [c for c in calls if c.get("instance_id") == "pgm-other"]
    assert "Plan: 5 to change, 5 restarts (~3 min each), 0 in sync." in result.out
    assert f"Target: emulator at {cloud_env.endpoint} (RDSSSL_ENDPOINT)" in result.out


def test_detailed_exitcode(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, "instances:\n  - {id: pgm-a, region: cn-hangzhou, ssl: {enabled: false}}\n")
    assert cli("plan", str(spec_dir), "--detailed-exitcode").code == 0
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    assert cli("plan", str(spec_dir), "--detailed-exitcode").code == 2
    assert cli("plan", str(spec_dir)).code == 0


def test_json_format_is_documented_shape(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a"), instance_entry("pgm-b", engine_version="9.6")])
    write_spec(spec_dir, aliyun_spec("pgm-a", "pgm-b", "pgm-missing"))
    result = cli("plan", str(spec_dir), "--format", "json")
    # pgm-missing does not exist and pgm-b can never carry SSL: the plan fails (README "Exit codes").
    assert result.code == 1, result.err
    document = json.loads(result.out)
    assert document["format_version"] == "2.0"
    assert document["target"]["kind"] == "emulator"
    assert document["target"]["endpoint"] == cloud_env.endpoint
    assert document["summary"] == {
        "change": 1,
        "in_sync": 0,
        "ineligible": 1,
        "not_found": 1,
        "error": 0,
        "restarts": 1,
        "deferred": 0,
        "estimated_restart_seconds": 180,
    }
    by_id = {item["id"]: item for item in document["instances"]}
    assert by_id["pgm-a"]["status"] == "change"
    assert by_id["pgm-a"]["restart"] == "required"
    # Typed values (a boolean, a list of host names), and the texts the text plan shows.
    assert by_id["pgm-a"]["changes"][:2] == [
        {
            "field": "ssl.enabled",
            "before": False,
            "after": True,
            "before_text": "false",
            "after_text": "true",
            "restart": "required",
            "rule": "enable-ssl-cloud-cert",
            "reason": None,
        },
        {
            "field": "ssl.endpoints",
            "before": [],
            "after": ["pgm-a.pg.rds.aliyuncs.com"],
            "before_text": "(none)",
            "after_text": "pgm-a.pg.rds.aliyuncs.com",
            "restart": "required",
            "rule": "enable-ssl-cloud-cert",
            "reason": None,
        },
    ]
    assert by_id["pgm-a"]["policy"] == {"mode": "allowed", "window": None, "renew_before_days": 30}
    assert (by_id["pgm-a"]["action"], by_id["pgm-a"]["deferral"]) == ("now", None)
    assert document["allow_restart"] == []
    assert by_id["pgm-b"]["status"] == "ineligible"
    assert by_id["pgm-missing"]["status"] == "not_found"
    assert "generated_at" in document


def test_markdown_has_restart_banner_first(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    result = cli("plan", str(spec_dir), "--format", "markdown")
    lines = result.out.splitlines()
    assert lines[2:4] == ["> [!WARNING]", "> **1 instance will restart (~3 min):** `pgm-a`"]
    assert "| `pgm-a` | change | **required (~3 min)** |" in result.out
    assert "<details><summary><code>pgm-a</code>" in result.out


def test_markdown_cannot_be_forged_by_text_from_the_api(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    # ModifyStatusReason comes from the API and is shown as a warning. It must not be able to close the
    # details block and add a "no restarts" banner to the pull-request comment.
    forged = "rejected\n\n</details>\n\n> [!NOTE]\n> No instance restarts in this plan."
    cloud_env.admin.add_instances([instance_entry("pgm-a")])
    cloud_env.admin.set_instance("pgm-a", last_modify_status="failed", modify_status_reason=forged)
    write_spec(spec_dir, aliyun_spec("pgm-a"))
    result = cli("plan", str(spec_dir), "--format", "markdown")
    assert result.code == 0, result.text
    assert result.out.count("</details>") == 1
    assert "> [!NOTE]" not in result.out
    # The newlines are shown escaped, as in the text plan (rdsssl_reconcile.textsafe), then HTML-escaped.
    assert r"(rejected\n\n&lt;/details&gt;\n\n&gt; [!NOTE]\n&gt; No instance restarts in this plan.)" in result.out


# -- bad input: precise message, exit 1, no cloud call ------------------------------------------------

BAD_SPECS = {
    "unknown-key": (
        "instances:\n  - id: pgm-a\n    region: cn-hangzhou\n    ssl: {enabeld: true}\n",
        "spec.yaml:4: instances[0].ssl.enabeld: unknown key 'enabeld' (did you mean 'enabled'?)",
    ),
    "wrong-type": (
        "instances:\n  - id: pgm-a\n    region: cn-hangzhou\n    ssl: {enabled: maybe}\n",
        "spec.yaml:4: instances[0].ssl.enabled: expected true or false, got a string ('maybe')",
    ),
    "unreadable-cert": (
        "instances:\n  - id: pgm-a\n    region: cn-hangzhou\n    ssl:\n      enabled: true\n      endpoints: [pgm-a.pg.rds.aliyuncs.com]\n"
        "      certificate: {source: custom, cert: {file: nope.crt}, key: {file: nope.key}}\n",
        "spec.yaml:7: instances[0].ssl.certificate.cert.file: file 'nope.crt' does not exist",
    ),
    "unset-env": (
        "instances:\n  - id: pgm-a\n    region: cn-hangzhou\n    ssl:\n      enabled: true\n      endpoints: [pgm-a.pg.rds.aliyuncs.com]\n"
        "      certificate: {source: custom, cert: {pem: x}, key: {env: RDSSSL_E2E_UNSET}}\n",
        "spec.yaml:7: instances[0].ssl.certificate.key.env: environment variable 'RDSSSL_E2E_UNSET' is not set",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_input_exits_1_with_location_and_no_cloud_call(
    case: str, cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    text, expected = BAD_SPECS[case]
    write_spec(spec_dir, text)
    cloud_env.admin.clear_calls()
    for command in ("plan", "validate", "apply"):
        result = cli(command, str(spec_dir), *(["--auto-approve"] if command == "apply" else []))
        assert result.code == 1, result.text
        assert expected in result.err
        assert "Traceback" not in result.text
    assert cloud_env.admin.calls() == []


def test_duplicate_ids_across_files(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    write_spec(spec_dir, "instances:\n  - {id: pgm-a, region: cn-hangzhou, ssl: {enabled: false}}\n", "a.yaml")
    write_spec(spec_dir, "instances:\n  - {id: pgm-a, region: cn-hangzhou, ssl: {enabled: false}}\n", "b.yaml")
    cloud_env.admin.clear_calls()
    result = cli("plan", str(spec_dir))
    assert result.code == 1
    assert "b.yaml:2: instances[0].id: duplicate instance id 'pgm-a' (also declared at" in result.err
    assert cloud_env.admin.calls() == []


def test_usage_error_exits_1_not_2(cli: Cli) -> None:
    result = cli("plan", "--format", "yaml")
    assert result.code == 1
    assert "Invalid value for '--format'" in result.err


# -- secrets -------------------------------------------------------------------------------------------


def test_no_private_key_in_any_output_or_saved_plan(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live = pki.server(endpoint_of("pgm-a"))
    desired = pki.server(endpoint_of("pgm-a"))
    cloud_env.admin.add_instances(
        [
            instance_entry(
                "pgm-a",
                ssl={
                    "enabled": True,
                    "ca_type": "custom",
                    "endpoints": [endpoint_of("pgm-a")],
                    "server_cert": live.cert_pem(),
                    "server_key": live.key_pem(),
                },
            ),
            instance_entry("pgm-b", ssl={"enabled": True, "ca_type": "aliyun", "endpoint": endpoint_of("pgm-b")}),
        ]
    )
    (spec_dir / "server.crt").write_text(desired.cert_pem())
    monkeypatch.setenv("DESIRED_KEY", desired.key_pem())
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: pgm-a
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{endpoint_of("pgm-a")}]
              certificate: {{source: custom, cert: {{file: server.crt}}, key: {{env: DESIRED_KEY}}}}
          - id: pgm-b
            region: cn-hangzhou
            ssl: {{enabled: false}}
        """,
    )
    aliyun_key = cloud_env.admin.instance("pgm-b")  # the emulator never hands the key out here either
    outputs = []
    for output_format in ("text", "json", "markdown"):
        result = cli(
            "plan", str(spec_dir), "--format", output_format, "--out", str(tmp_path / f"plan-{output_format}.json")
        )
        assert result.code == 0, result.text
        outputs += [result.out, result.err, (tmp_path / f"plan-{output_format}.json").read_text()]
    everything = "\n".join(outputs) + json.dumps(aliyun_key)
    assert_no_key_material(everything, live.key_pem(), desired.key_pem())
    # ... but reviewers still see what changes, by meaning:
    assert "ssl.certificate.key" in outputs[0]
    assert "(sensitive) <private key from env $DESIRED_KEY, public key sha256" in outputs[0]


# -- procedure files ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["single", "san"])
def test_procedure_files_validate_apply_and_plan_in_sync(
    variant: str, cli: Cli, cloud_env: RunningEmulator, tmp_path: Path
) -> None:
    from tests.support import openssl_procedure

    files = (
        openssl_procedure.procedure_single_endpoint(tmp_path / "procedure")
        if variant == "single"
        else openssl_procedure.procedure_san(tmp_path / "procedure")
    )
    endpoints = list(files.endpoints)
    instance_id = "pgm-bpxxxxx"
    cloud_env.admin.add_instances(
        [instance_entry(instance_id, endpoints=[{"host": e, "type": "Private", "port": 5432} for e in endpoints])]
    )
    spec_dir = tmp_path / "specs"
    write_spec(
        spec_dir,
        f"""
        instances:
          - id: {instance_id}
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [{", ".join(endpoints)}]
              certificate:
                source: custom
                cert: {{file: {files.server_cert}}}
                key: {{file: {files.server_key}}}
        """,
    )
    assert cli("validate", str(spec_dir)).code == 0
    first = cli("plan", str(spec_dir), "--detailed-exitcode")
    assert first.code == 2, first.text
    applied = cli("apply", str(spec_dir), "--auto-approve", "--poll-interval", "0.05")
    assert applied.code == 0, applied.text
    again = cli("plan", str(spec_dir), "--detailed-exitcode")
    assert again.code == 0, again.text
    assert "in sync" in again.out
    # The same certificate re-encoded (CRLF, other line breaks, a text preamble): still in sync.
    files.server_cert.write_bytes(openssl_procedure.crlf_rewrapped(files.server_cert.read_bytes()))
    assert cli("plan", str(spec_dir), "--detailed-exitcode").code == 0


# -- faults ----------------------------------------------------------------------------------------


def test_plan_survives_throttling_5xx_and_drops(cli: Cli, cloud_env: RunningEmulator, spec_dir: Path) -> None:
    cloud_env.admin.add_instances([instance_entry(f"pgm-f{i}") for i in range(4)])
    write_spec(spec_dir, aliyun_spec("pgm-f0", "pgm-f1", "pgm-f2", "pgm-f3"))
    cloud_env.admin.add_fault(kind="throttle", action="DescribeDBInstanceSSL", count=2, retry_after_ms=50)
    cloud_env.admin.add_fault(kind="throttle", action="DescribeDBInstanceNetInfo", count=1)
    cloud_env.admin.add_fault(
        kind="error", action="DescribeDBInstances", count=2, status=503, code="ServiceUnavailable"
    )
    cloud_env.admin.add_fault(kind="drop", action="DescribeDBInstanceSSL", instance_id="pgm-f3", count=1)
    result = cli("plan", str(spec_dir), "--format", "json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert [i["status"] for i in document["instances"]] == ["change"] * 4
    assert "retrying DescribeDBInstances after ServiceUnavailable" in result.err
    assert "retrying DescribeDBInstanceSSL after Throttling.User" in result.err
    assert "retrying DescribeDBInstanceSSL after ConnectionDropped" in result.err


def test_persistent_failure_and_timeout_are_reported_per_instance(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    cloud_env.admin.add_instances([instance_entry("pgm-ok"), instance_entry("pgm-bad"), instance_entry("pgm-slow")])
    write_spec(spec_dir, aliyun_spec("pgm-ok", "pgm-bad", "pgm-slow"))
    cloud_env.admin.add_fault(
        kind="error", action="DescribeDBInstanceSSL", instance_id="pgm-bad", status=500, code="InternalError"
    )
    cloud_env.admin.add_fault(kind="latency", action="DescribeDBInstanceSSL", instance_id="pgm-slow", latency_ms=1500)
    result = cli("plan", str(spec_dir), "--format", "json", "--timeout", "0.5")
    assert result.code == 1  # incomplete plan: an error, but every instance is still reported
    document = json.loads(result.out)
    by_id = {i["id"]: i for i in document["instances"]}
    assert by_id["pgm-ok"]["status"] == "change"
    assert by_id["pgm-bad"]["status"] == "error"
    assert by_id["pgm-bad"]["error"]["code"] == "InternalError"
    assert by_id["pgm-slow"]["status"] == "error"
    assert by_id["pgm-slow"]["error"]["code"] == "Timeout"


# -- start-up ------------------------------------------------------------------------------------------


def test_help_and_validate_do_not_import_the_sdk(tmp_path: Path) -> None:
    write_spec(tmp_path / "specs", aliyun_spec("pgm-a"))
    code = (
        "import sys\n"
        "from rdsssl_reconcile.cli import run\n"
        "assert run(['--help']) == 0\n"
        "assert run(['plan', '--help']) == 0\n"
        f"assert run(['validate', {str(tmp_path / 'specs')!r}]) == 0\n"
        "loaded = [m for m in sys.modules if m.startswith(('alibabacloud', 'darabonba', 'Tea'))]\n"
        "assert not loaded, loaded\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr


def test_credentials_missing_is_a_clear_error(emulator: RunningEmulator, tmp_path: Path) -> None:
    # A subprocess: the credentials library reads the environment once, at import.
    write_spec(tmp_path / "specs", aliyun_spec("pgm-a"))
    env = {
        "RDSSSL_ENDPOINT": emulator.endpoint,
        "HOME": str(tmp_path),
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "",
    }
    emulator.admin.clear_calls()
    result = run_subprocess(["plan"], cwd=tmp_path, env=env)
    assert result.code == 1, result.text
    assert "no Alibaba Cloud credentials found" in result.err
    assert "Traceback" not in result.text
    assert emulator.admin.calls() == []


def test_an_endpoint_that_is_not_the_rds_api_is_named_not_retried(
    cli: Cli, spec_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A typo'd --endpoint pointing at some web server: it answers, just not with the API's JSON.
    hits: list[str] = []

    class NotRds(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotRds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "emulator-access-key-id")
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "emulator-access-key-secret")
        write_spec(spec_dir, aliyun_spec("pgm-a"))
        result = cli("plan", str(spec_dir), "--endpoint", f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 1, result.text
    assert "BadResponse" in result.out + result.err
    assert "not the RDS API's JSON (is it an RDS API endpoint?)" in result.out + result.err
    assert len(hits) == 1  # a permanent error: not retried


def test_read_only_instance_is_planned_and_a_guard_instance_is_ineligible(
    cli: Cli, cloud_env: RunningEmulator, spec_dir: Path
) -> None:
    cloud_env.admin.settings(readonly_ssl_supported=True)
    cloud_env.admin.add_instances(
        [
            instance_entry("pgm-p"),
            instance_entry("pgm-ro", instance_type="Readonly", master_instance_id="pgm-p"),
            instance_entry("pgm-guard", instance_type="Guard", master_instance_id="pgm-p"),
        ]
    )
    write_spec(spec_dir, aliyun_spec("pgm-ro", "pgm-guard"))
    cloud_env.admin.clear_calls()
    result = cli("plan", str(spec_dir), "--detailed-exitcode")
    # The Guard instance can never carry the SSL its spec declares: the plan fails (README "Exit codes").
    assert result.code == 1, result.text
    assert "~ pgm-ro (cn-hangzhou) will be changed" in result.out
    assert "! pgm-guard (cn-hangzhou): ineligible - Guard instance: only primary and read-only" in result.out
    # The Guard instance's SSL state is not even asked for.
    asked = {(c["action"], c.get("instance_id")) for c in cloud_env.admin.calls()}
    assert ("DescribeDBInstanceSSL", "pgm-ro") in asked
    assert ("DescribeDBInstanceSSL", "pgm-guard") not in asked
