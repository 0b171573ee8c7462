"""Spec loading: every user mistake gets file, line, key path, expected and found; all at once."""

from __future__ import annotations

import json
import os
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rdsssl_reconcile.errors import SpecError
from rdsssl_reconcile.spec.loader import discover_spec_files, load_specs
from rdsssl_reconcile.spec.model import AliyunCertificate, CustomCertificate, RestartMode
from tests.support.unprivileged import run_unprivileged, shared_directory

NOW = datetime(2026, 11, 27, tzinfo=UTC)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(paths: list[Path], **kwargs: object) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_specs(paths, now=NOW, **kwargs)  # type: ignore[arg-type]
    return list(info.value.problems)


def test_valid_aliyun_spec_with_defaults(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fleet.yaml",
        """
        defaults:
          region: cn-hangzhou
          policy: {restart: window, window: "sat 02:00-04:00", renew_before_days: 20}
        instances:
          - id: pgm-aaa
            ssl: {enabled: true, endpoints: [pgm-aaa.pg.rds.aliyuncs.com], certificate: {source: aliyun}}
          - id: pgm-bbb
            region: cn-shanghai
            policy: {restart: never}
            ssl: {enabled: false}
        """,
    )
    spec_set = load_specs([tmp_path], now=NOW)
    first, second = spec_set.instances
    assert first.region == "cn-hangzhou"
    assert isinstance(first.ssl.certificate, AliyunCertificate)
    assert first.policy.mode is RestartMode.WINDOW
    assert first.policy.renew_before_days == 20
    assert first.policy.window is not None
    assert first.policy.window.text == "sat 02:00-04:00"
    # Mappings merge: the instance overrides restart but inherits renew_before_days.
    assert second.region == "cn-shanghai"
    assert second.policy.mode is RestartMode.NEVER
    assert second.policy.renew_before_days == 20
    assert first.location.line == 5
    assert first.location.path == "instances[0]"


def test_unknown_key_names_file_line_path_and_suggestion(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enable: true
        """,
    )
    problems = problems_of([spec])
    assert any(
        p.startswith(f"{spec}:5: instances[0].ssl.enable: unknown key 'enable' (did you mean 'enabled'?)")
        for p in problems
    ), problems
    # and the misspelt key is therefore missing: leaving ssl.enabled out must never mean "SSL off".
    assert f"{spec}:5: instances[0].ssl: missing required key 'enabled'" in problems


def test_defaults_may_be_partial_and_instances_complete_them(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fleet.yaml",
        """
        defaults:
          region: cn-hangzhou
          ssl: {enabled: true, certificate: {source: aliyun}}
          policy: {restart: window}
        instances:
          - id: pgm-aaa
            ssl: {endpoints: [pgm-aaa.pg.rds.aliyuncs.com]}
            policy: {window: "sat 02:00-04:00"}
        """,
    )
    (instance,) = load_specs([tmp_path], now=NOW).instances
    assert instance.ssl.enabled
    assert instance.ssl.endpoints == ("pgm-aaa.pg.rds.aliyuncs.com",)
    assert instance.policy.mode is RestartMode.WINDOW


def test_wrong_type_and_enum_typo_reported_together(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enabled: "yes please"
              endpoints: [pgm-aaa.pg.rds.aliyuncs.com]
              certificate: {source: aliyn}
        """,
    )
    problems = problems_of([spec])
    assert any(
        ":5: instances[0].ssl.enabled: expected true or false, got a string ('yes please')" in p for p in problems
    )
    assert any(
        ":7: instances[0].ssl.certificate.source: expected one of 'aliyun', 'custom', 'issuer', got a string ('aliyn')"
        " (did you mean 'aliyun'?)" in p
        for p in problems
    )


def test_errors_from_several_files_are_all_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "instances:\n  - id: pgm-aaa\n    region: cn-hangzhou\n")
    write(tmp_path, "b.yaml", "instancse: []\n")
    problems = problems_of([tmp_path])
    assert any("a.yaml:2: instances[0]: missing required key 'ssl'" in p for p in problems)
    assert any("b.yaml:1: instancse: unknown key 'instancse' (did you mean 'instances'?)" in p for p in problems)
    assert any("b.yaml" in p and "missing required key 'instances'" in p for p in problems)


def test_duplicate_instance_id_across_files_names_both_places(tmp_path: Path) -> None:
    body = "instances:\n  - id: pgm-aaa\n    region: cn-hangzhou\n    ssl: {enabled: false}\n"
    write(tmp_path, "a.yaml", body)
    second = write(tmp_path, "b.yaml", body)
    (problem,) = problems_of([tmp_path])
    assert problem.startswith(f"{second}:2: instances[0].id: duplicate instance id 'pgm-aaa' (also declared at ")
    assert "a.yaml:2" in problem


def test_duplicate_yaml_key_is_an_error(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            region: cn-shanghai
            ssl: {enabled: false}
        """,
    )
    (problem,) = problems_of([spec])
    assert f"{spec}:4: instances[0].region: duplicate key (first defined on line 3)" in problem


def test_aliyun_certificate_protects_exactly_one_endpoint(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [a.example.com, b.example.com]
              certificate: {source: aliyun}
        """,
    )
    (problem,) = problems_of([spec])
    assert (
        ":6: instances[0].ssl.endpoints: the cloud certificate (source 'aliyun') protects exactly one endpoint, got 2"
        in problem
    )


def test_inline_private_key_is_refused_with_the_reason(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [a.example.com]
              certificate:
                source: custom
                cert: {file: server.crt}
                key: {pem: "-----BEGIN PRIVATE KEY-----"}
        """,
    )
    problems = problems_of([spec])
    assert any(
        ":10: instances[0].ssl.certificate.key.pem: private keys cannot be written inline; use {file: PATH} or {env: NAME}"
        in p
        for p in problems
    )
    # The refused value is never echoed back.
    assert not any("BEGIN PRIVATE KEY" in p for p in problems)


def test_private_key_pasted_anywhere_is_refused_and_never_echoed(tmp_path: Path, server_pair: dict[str, str]) -> None:
    key = server_pair["key"]
    body = key.splitlines()[1]
    spec = tmp_path / "a.yaml"
    quoted = json.dumps(key)  # a JSON string is a valid YAML double-quoted scalar
    spec.write_text(
        "instances:\n"
        f"  - id: {quoted}\n"
        "    region: cn-hangzhou\n"
        f"    description: {quoted}\n"
        "    ssl:\n"
        f"      enabled: {quoted}\n",
        encoding="utf-8",
    )
    problems = problems_of([spec])
    for line, path in ((2, "id"), (4, "description"), (6, "ssl.enabled")):
        assert any(
            p.startswith(f"{spec}:{line}: instances[0].{path}: holds a private key, which must never be written")
            for p in problems
        ), problems
    # Type errors on the same values say what was found without showing it.
    assert any("got a string holding a private key (not shown)" in p for p in problems)
    assert not any("PRIVATE KEY-----" in p or body in p for p in problems)


def test_long_values_are_cut_in_messages(tmp_path: Path) -> None:
    spec = write(tmp_path, "a.yaml", f"instances:\n  - id: pgm-aaa\n    region: {'x' * 500}\n")
    problems = problems_of([spec])
    assert any("got a string ('" + "x" * 80 + "'... 500 characters)" in p for p in problems), problems


def test_missing_file_and_unset_env_var(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [a.example.com]
              certificate:
                source: custom
                cert: {file: certs/missing.crt}
                key: {env: RDSSSL_TEST_UNSET_KEY}
        """,
    )
    problems = problems_of([spec], environ={})
    assert any(
        ":9: instances[0].ssl.certificate.cert.file: file 'certs/missing.crt' does not exist" in p for p in problems
    )
    assert any(
        ":10: instances[0].ssl.certificate.key.env: environment variable 'RDSSSL_TEST_UNSET_KEY' is not set" in p
        for p in problems
    )


def test_unreadable_file_is_reported() -> None:
    # Run as nobody when the suite runs as root (as CI does), who could read the mode-0 file.
    with shared_directory() as shared:
        spec = write(shared, "a.yaml", "instances: []\n")
        spec.chmod(0)
        result = run_unprivileged(["validate", "."], cwd=shared)  # found by discovery, then read
    assert result.code == 1, result.text
    assert "a.yaml: cannot read the file: Permission denied" in result.err, result.err


def test_invalid_yaml_has_line(tmp_path: Path) -> None:
    spec = write(tmp_path, "a.yaml", "instances:\n  - id: [unclosed\n")
    (problem,) = problems_of([spec])
    assert problem.startswith(f"{spec}:")
    assert "not valid YAML" in problem


def test_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    write(
        tmp_path,
        "fleet.yaml",
        """
        instances:
          - &common {id: pgm-aaa, region: cn-hangzhou, ssl: {enabled: false}, policy: {restart: never}}
          - {<<: *common, id: pgm-bbb}
        """,
    )
    first, second = load_specs([tmp_path], now=NOW).instances
    assert (first.id, second.id) == ("pgm-aaa", "pgm-bbb")
    assert second.region == "cn-hangzhou"
    assert second.policy.mode is RestartMode.NEVER
    assert second.location.line == 3


def test_key_overriding_a_merge_is_located_on_its_own_line(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "fleet.yaml",
        """
        instances:
          - &common {id: pgm-aaa, region: cn-hangzhou, ssl: {enabled: false}}
          - <<: *common
            id: pgm-bbb
            region: 42
        """,
    )
    (problem,) = problems_of([tmp_path])
    assert problem.startswith(f"{spec}:5: instances[1].region: expected"), problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("instances: &a\n  - *a\n", ":1: instances[0]: an alias refers to a value that contains it"),
        ("? &k [*k]\n: 1\n", ":1: not valid YAML: found unconstructable recursive node"),
        ("instances:\n  ? [1]\n  : 1\n", ":2: instances: keys must be strings, got list [1]"),
    ],
    ids=["self-containing-alias", "recursive-key", "collection-key"],
)
def test_malformed_yaml_structures_are_problems_not_crashes(tmp_path: Path, text: str, expected: str) -> None:
    spec = tmp_path / "fleet.yaml"
    spec.write_text(text, encoding="utf-8")
    (problem,) = problems_of([tmp_path])
    assert problem.startswith(f"{spec}{expected}"), problem


def test_alias_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rdsssl_reconcile.spec.yaml_source.MAX_VALUES_PER_FILE", 1_000)
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for previous, name in zip("abcd", "bcde", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    spec = tmp_path / "fleet.yaml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (problem,) = problems_of([tmp_path])
    assert "the document expands to more than 1,000 values (nested aliases?)" in problem


def test_window_required_for_window_policy_and_format_checked(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl: {enabled: false}
            policy: {restart: window}
          - id: pgm-bbb
            region: cn-hangzhou
            ssl: {enabled: false}
            policy: {restart: window, window: "saturday 2am"}
        """,
    )
    problems = problems_of([spec])
    assert any(":5: instances[0].policy: missing required key 'window'" in p for p in problems)
    assert any(":9: instances[1].policy.window: expected a UTC window such as '02:00-04:00'" in p for p in problems)


def test_endpoints_ignore_case(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [PGM-AAA.pg.rds.aliyuncs.com, pgm-aaa.PG.rds.aliyuncs.com]
              certificate: {source: custom, cert: {file: x.crt}, key: {file: x.key}}
        """,
    )
    problems = problems_of([spec])
    assert (
        f"{spec}:6: instances[0].ssl.endpoints: the list names pgm-aaa.pg.rds.aliyuncs.com more than once "
        "(host names ignore case); expected each endpoint once"
    ) in problems


def test_endpoint_with_a_trailing_dot_is_refused(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl: {enabled: true, endpoints: [pgm-aaa.pg.rds.aliyuncs.com.], certificate: {source: aliyun}}
        """,
    )
    (problem,) = problems_of([spec])
    assert problem.startswith(
        f"{spec}:4: instances[0].ssl.endpoints[0]: 'pgm-aaa.pg.rds.aliyuncs.com.' ends with a dot"
    )


def test_window_shorter_than_a_restart_is_refused(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        defaults:
          region: cn-hangzhou
          ssl: {enabled: false}
        instances:
          - id: pgm-aaa
            policy: {restart: window, window: "02:00-02:02"}
          - id: pgm-bbb
            policy: {restart: window, window: "sun 23:58-00:01"}
        """,
    )
    # Only the first can never be used: a restart needs ~3 minutes before the window closes,
    # and the second spans midnight for exactly that long.
    assert problems_of([spec]) == [
        f"{spec}:6: instances[0].policy.window: the window lasts 2 min, shorter than a restart (~3 min), so no "
        "change could ever start in it; expected a window of at least 3 minutes"
    ]


def test_errors_in_defaults_point_at_defaults(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        defaults:
          policy: {restart: sometimes}
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl: {enabled: false}
        """,
    )
    problems = problems_of([spec])
    assert any(":2: defaults.policy.restart: expected one of 'allowed', 'window', 'never'" in p for p in problems)


def test_discovery_skips_underscore_and_hidden_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "instances: []\n")
    write(tmp_path, "nested/b.yml", "instances: []\n")
    write(tmp_path, "_target.yaml", "target: embedded-emulator\n")
    write(tmp_path, ".state/x.yaml", "x: 1\n")
    write(tmp_path, "notes.txt", "x\n")
    files, problems = discover_spec_files([tmp_path])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a.yaml", "nested/b.yml"]
    assert problems == []


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    problems = problems_of([tmp_path / "nope"])
    assert problems == [f"{tmp_path / 'nope'}: no such file or directory"]


def test_ssl_disabled_refuses_certificate(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enabled: false
              certificate: {source: aliyun}
        """,
    )
    (problem,) = problems_of([spec])
    assert ":6: instances[0].ssl.certificate: is not allowed when ssl.enabled is false" in problem


def test_custom_certificate_from_files_and_env(tmp_path: Path, server_pair: dict[str, str]) -> None:
    write(tmp_path, "certs/server.crt", server_pair["cert"])
    write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [pgm-aaa.pg.rds.aliyuncs.com]
              certificate:
                source: custom
                cert: {file: certs/server.crt}
                key: {env: TEST_SERVER_KEY}
        """,
    )
    spec_set = load_specs([tmp_path], now=NOW, environ={"TEST_SERVER_KEY": server_pair["key"]})
    (instance,) = spec_set.instances
    certificate = instance.ssl.certificate
    assert isinstance(certificate, CustomCertificate)
    assert certificate.key.summary.public_key_sha256 == certificate.cert.summary.public_key_sha256
    assert "PRIVATE" not in repr(instance)
    assert certificate.key.ref.describe() == "env $TEST_SERVER_KEY"


def write_issuer_spec(directory: Path, ca_cert: str, ca_key: str, extra: str = "") -> Path:
    (directory / "ca.crt").write_text(ca_cert, encoding="utf-8")
    (directory / "ca.key").write_text(ca_key, encoding="utf-8")
    return write(
        directory,
        "a.yaml",
        f"""
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl:
              enabled: true
              endpoints: [pgm-aaa.pg.rds.aliyuncs.com]
              certificate: {{source: issuer, ca_cert: {{file: ca.crt}}, ca_key: {{file: ca.key}}{extra}}}
        """,
    )


def test_issuer_validity_must_outlast_the_renewal_window(tmp_path: Path, server_pair: dict[str, str]) -> None:
    from rdsssl_reconcile.pki.authority import CertificateAuthority

    ca = CertificateAuthority.create("issuer-test-ca", now=NOW)
    spec = write_issuer_spec(tmp_path, ca.cert_pem(), ca.key_pem(), ", validity_days: 30")
    # With the default renew_before_days of 30, a fresh certificate would be due at once: every apply
    # would issue and restart again.
    assert problems_of([spec]) == [
        f"{spec}:7: instances[0].ssl.certificate.validity_days: validity_days (30) must be longer than "
        "renew_before_days (30): a certificate issued now would already be due for renewal, and every apply "
        "would issue and restart again"
    ]


def test_issuer_ca_must_be_allowed_to_sign(tmp_path: Path) -> None:
    from tests.pki.builders import key_usage, make_cert

    no_cert_sign = make_cert(
        cn="no-sign-ca",
        ca=True,
        usage=key_usage(digital_signature=True),
        not_before=datetime(2026, 1, 1),
        not_after=datetime(2030, 1, 1),
    )
    spec = write_issuer_spec(tmp_path, no_cert_sign.cert_pem(), no_cert_sign.key_pem())
    (problem,) = problems_of([spec])
    assert problem.startswith(
        f"{spec}:7: instances[0].ssl.certificate.ca_cert: CN=no-sign-ca may not sign certificates"
    )


def custom_spec(cert: str, key: str = "{file: server.key}") -> str:
    return (
        "instances:\n  - id: pgm-aaa\n    region: cn-hangzhou\n    ssl:\n      enabled: true\n"
        "      endpoints: [pgm-aaa.pg.rds.aliyuncs.com]\n"
        f"      certificate: {{source: custom, cert: {cert}, key: {key}}}\n"
    )


def test_key_pasted_as_a_file_path_is_never_echoed(tmp_path: Path, server_pair: dict[str, str]) -> None:
    key = server_pair["key"]
    spec = tmp_path / "a.yaml"
    spec.write_text(custom_spec("{file: server.crt}", "{file: " + json.dumps(key) + "}"), encoding="utf-8")
    (tmp_path / "server.crt").write_text(server_pair["cert"], encoding="utf-8")
    problems = problems_of([spec])
    assert any("expected a file path, found PEM text" in p for p in problems), problems
    assert not any("PRIVATE KEY-----" in p or key.splitlines()[1] in p for p in problems), problems


def test_key_pasted_as_a_mapping_key_is_never_echoed(tmp_path: Path, server_pair: dict[str, str]) -> None:
    key = server_pair["key"]
    spec = tmp_path / "a.yaml"
    spec.write_text(f"instances: []\n? {json.dumps(key)}\n: 1\n", encoding="utf-8")  # an explicit (long) key
    problems = problems_of([spec])
    assert any("a key holds PEM text" in p for p in problems), problems
    assert not any("PRIVATE KEY-----" in p or key.splitlines()[1] in p for p in problems), problems


@pytest.mark.parametrize("kind", ["symlink-loop", "nul-byte", "fifo", "directory"])
def test_unusable_material_paths_are_problems_not_crashes_or_hangs(tmp_path: Path, kind: str) -> None:
    name = {"symlink-loop": "loop", "nul-byte": "a\\0b", "fifo": "fifo", "directory": "dir"}[kind]
    if kind == "symlink-loop":
        (tmp_path / "loop").symlink_to(tmp_path / "loop2")
        (tmp_path / "loop2").symlink_to(tmp_path / "loop")
    elif kind == "fifo":
        os.mkfifo(tmp_path / "fifo")
    elif kind == "directory":
        (tmp_path / "dir").mkdir()
    spec = tmp_path / "a.yaml"
    spec.write_text(custom_spec(f'{{file: "{name}"}}', "{env: NOPE_UNSET_KEY}"), encoding="utf-8")
    problems = problems_of([spec])
    assert any(":7: instances[0].ssl.certificate.cert.file: " in p for p in problems), problems


def test_values_with_a_trailing_newline_are_refused(tmp_path: Path) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text('instances:\n  - id: "pgm-aaa\\n"\n    region: cn-hangzhou\n    ssl: {enabled: false}\n')
    (problem,) = problems_of([spec])
    assert problem.startswith(f"{spec}:2: instances[0].id: expected no surrounding spaces or line breaks")


def test_window_with_restart_allowed_is_refused(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "a.yaml",
        """
        instances:
          - id: pgm-aaa
            region: cn-hangzhou
            ssl: {enabled: false}
            policy: {window: "02:00-04:00"}
        """,
    )
    (problem,) = problems_of([spec])
    assert problem.startswith(f"{spec}:5: instances[0].policy.window: a window is set but restart is 'allowed'")


def test_discovery_ignores_suffix_case_and_a_file_named_twice(tmp_path: Path) -> None:
    write(tmp_path, "A.YAML", "instances:\n  - {id: pgm-aaa, region: cn-hangzhou, ssl: {enabled: false}}\n")
    spec_set = load_specs([tmp_path, tmp_path / "A.YAML"], now=NOW)
    assert [i.id for i in spec_set.instances] == ["pgm-aaa"]
