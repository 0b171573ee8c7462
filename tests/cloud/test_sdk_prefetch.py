"""The vendor SDK's import in a thread, overlapping spec loading: no shared module, no deadlock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.pki.builders import make_cert

SDK_PREFIXES = ("alibabacloud", "darabonba", "Tea", "rdsssl_reconcile.cloud.sdk")


def write_specs(directory: Path) -> Path:
    """A spec set that takes every lazy path of the loader: aliyun and custom certificates, key files."""
    specs = directory / "specs"
    specs.mkdir()
    pair = make_cert(cn="pgm-aaa.pg.rds.aliyuncs.com", dns=["pgm-aaa.pg.rds.aliyuncs.com"])
    (specs / "server.crt").write_text(pair.cert_pem(), encoding="utf-8")
    key = specs / "server.key"
    key.write_text(pair.key_pem(), encoding="utf-8")
    key.chmod(0o600)
    (specs / "custom.yaml").write_text(
        "instances:\n  - id: pgm-aaa\n    region: cn-hangzhou\n    ssl:\n      enabled: true\n"
        "      endpoints: [pgm-aaa.pg.rds.aliyuncs.com]\n"
        "      certificate: {source: custom, cert: {file: server.crt}, key: {file: server.key}}\n",
        encoding="utf-8",
    )
    (specs / "aliyun.yaml").write_text(
        "defaults: {region: cn-beijing}\ninstances:\n  - id: pgm-bbb\n"
        "    ssl: {enabled: true, endpoints: [pgm-bbb.pg.rds.aliyuncs.com], certificate: {source: aliyun}}\n",
        encoding="utf-8",
    )
    return specs


def modules_imported_by(step: str, specs: Path) -> set[str]:
    """The modules ``step`` imports in a fresh interpreter that has loaded the CLI (as a command has)."""
    code = (
        "import json, sys\nfrom datetime import UTC, datetime\nfrom pathlib import Path\n"
        "from rdsssl_reconcile.cli import run\nimport rdsssl_reconcile.cli.runner as runner\n"
        "before = set(sys.modules)\n"
        f"paths = [Path({str(specs)!r})]\n"
        "if sys.argv[1] == 'specs':\n"
        "    spec_set = runner.load_specs(paths, now=datetime.now(UTC))\n"
        "    assert len(spec_set.instances) == 2, spec_set\n"
        "    runner.resolve_target(endpoint_option='http://127.0.0.1:9', spec_paths=paths)\n"
        "else:\n"
        "    import rdsssl_reconcile.cloud.sdk\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, step], capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_spec_loading_imports_nothing_that_the_sdk_import_imports(tmp_path: Path) -> None:
    # Disjoint sets of first imports: neither thread can wait for a module lock the other holds.
    specs = write_specs(tmp_path)
    by_specs = modules_imported_by("specs", specs)
    by_sdk = modules_imported_by("sdk", specs)
    assert any(m.startswith("alibabacloud") for m in by_sdk)  # the step really imports the SDK
    assert not by_specs & by_sdk, sorted(by_specs & by_sdk)


def test_the_main_threads_own_import_waits_for_the_prefetch_and_finds_it_done() -> None:
    code = (
        "import sys, threading\n"
        "from rdsssl_reconcile.cloud.session import prefetch_sdk\n"
        "fetch = prefetch_sdk()\n"
        "from rdsssl_reconcile.cloud.sdk import SdkCloudClient\n"  # while the thread may still import it
        "fetch.wait()\n"
        "print(SdkCloudClient.__name__, sorted(t.name for t in threading.enumerate()))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SdkCloudClient ['MainThread']"


def test_commands_without_cloud_calls_do_not_start_the_import(tmp_path: Path) -> None:
    specs = write_specs(tmp_path)
    code = (
        "import sys, threading\nfrom rdsssl_reconcile.cli import run\n"
        f"assert run(['validate', {str(specs)!r}]) == 0\n"
        "assert run(['plan', '--help']) == 0\n"
        f"loaded = [m for m in sys.modules if m.startswith({SDK_PREFIXES!r})]\n"
        "names = [t.name for t in threading.enumerate()]\n"
        "print(loaded, names)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[] ['MainThread']"
