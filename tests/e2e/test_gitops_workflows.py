"""The GitOps example's workflows, run step by step with the emulator standing in for the cloud (issue 11, 6).

Each test copies ``examples/gitops`` into its tmp dir, runs its ``bootstrap.sh`` there (CAs and the
custom certificate made at run time, keys kept outside the repository copy and handed to the runner as
secrets), and runs the workflow files themselves with :mod:`tests.support.workflow_runner`: every ``run:``
step in order with bash, GitHub's actions replaced by stubs on disk, ``gh`` by a fake over the same files.
The emulator is loaded with the example's own ``rehearsal/fleet.yaml``.

The story is the README's loop: a pull request gets the saved plan as a comment and an artifact; the merge
applies that artifact behind the ``production`` environment and plans again to nothing; the nightly job
reports drift made in the "console" (the emulator's admin API) and opens or updates one issue.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from rdsssl_reconcile.emulator import RunningEmulator, run_emulator
from tests.e2e.conftest import assert_no_key_material
from tests.support.workflow_runner import (
    ACTIONS,
    Event,
    FakeGitHub,
    JobResult,
    UnsupportedWorkflow,
    WorkflowRunner,
    condition,
    interpolate,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "gitops"
WORKFLOWS = EXAMPLE / ".github" / "workflows"
BIN = Path(sys.executable).parent
PR_NUMBER = 7
pytestmark = pytest.mark.e2e


def require_jq() -> None:
    """gh applies --jq to its JSON; the fake does the same with the real jq (.ci/run installs it)."""
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (.ci/run installs it)")


@dataclass
class GitOps:
    """The example repository after its one-time bootstrap, the cloud, and a runner for its workflows."""

    tree: Path
    keys: dict[str, str]
    emulator: RunningEmulator
    github: FakeGitHub
    runner: WorkflowRunner
    approvals: list[str] = field(default_factory=list)

    def workflow(self, name: str) -> Path:
        return self.tree / ".github" / "workflows" / name

    def open_pull_request(self) -> JobResult:
        head = self.github.commit(self.tree)
        self.github.open_pull_request(PR_NUMBER, head)
        payload = {
            "number": PR_NUMBER,
            "pull_request": {"number": PR_NUMBER, "head": {"sha": head}, "base": {"ref": "main"}},
        }
        event = Event("pull_request", sha=head, ref=f"refs/pull/{PR_NUMBER}/merge", payload=payload)
        (job,) = self.runner.run(self.workflow("pull-request.yml"), event)
        return job

    def merge(self, tree: Path | None = None) -> JobResult:
        """Merge the pull request (the merged tree is the head's unless ``tree`` says otherwise) and push main."""
        merge_sha = self.github.commit(tree or self.tree, salt=f"merge of #{PR_NUMBER}")
        self.github.merge_pull_request(PR_NUMBER, merge_sha)
        (job,) = self.runner.run(self.workflow("apply.yml"), Event("push", sha=merge_sha))
        return job

    def nightly(self, tree: Path | None = None) -> JobResult:
        """The scheduled run on main (the merged tree, or ``tree`` when main has moved on since)."""
        main = self.github.commit(tree or self.tree, salt=f"merge of #{PR_NUMBER}")
        (job,) = self.runner.run(
            self.workflow("drift.yml"), Event("schedule", sha=main, payload={"schedule": "17 3 * * *"})
        )
        return job

    def modify_calls(self) -> list[dict[str, Any]]:
        return list(self.emulator.admin.calls(action="ModifyDBInstanceSSL"))

    def artifact(self, job: JobResult, name: str) -> Path:
        return self.github.artifact_dir(job.run_id, name)

    def all_text(self, *jobs: JobResult) -> str:
        texts = [job.log + job.summary for job in jobs]
        texts += [
            p.read_text(errors="replace")
            for p in self.github.root.rglob("*")
            if p.is_file() and "commits" not in p.parts
        ]
        return "\n".join(texts)


@pytest.fixture
def gitops(tmp_path: Path) -> Iterator[GitOps]:
    require_jq()
    tree = tmp_path / "repository"
    shutil.copytree(EXAMPLE, tree, ignore=shutil.ignore_patterns("certs", ".state", "reports", "*.plan"))
    secrets_dir = tmp_path / "secrets"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    made = subprocess.run(
        ["./bootstrap.sh", str(secrets_dir)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    assert sorted(p.name for p in (tree / "certs").iterdir()) == ["analytics.crt", "client-ca.crt", "server-ca.crt"]
    assert not [p for p in tree.rglob("*") if p.is_file() and "PRIVATE KEY" in p.read_text(errors="replace")]
    keys = {
        "ANALYTICS_SERVER_KEY": (secrets_dir / "analytics" / "server.key").read_text(),
        "SERVER_CA_KEY": (secrets_dir / "server-ca" / "server-ca.key").read_text(),
    }
    with run_emulator(fleet=tree / "rehearsal" / "fleet.yaml", restart_seconds=0.2) as emulator:
        github = FakeGitHub(tmp_path / "github")
        approvals: list[str] = []

        def approve(environment: str) -> bool:
            approvals.append(environment)
            return True

        credentials = {"id": emulator.access_key_id, "secret": emulator.access_key_secret}
        runner = WorkflowRunner(
            github=github,
            work_root=tmp_path / "runner",
            python_bin=BIN,
            secrets={
                "RDS_READONLY_ACCESS_KEY_ID": credentials["id"],
                "RDS_READONLY_ACCESS_KEY_SECRET": credentials["secret"],
                **keys,
            },
            environment_secrets={
                "production": {
                    "RDS_APPLY_ACCESS_KEY_ID": credentials["id"],
                    "RDS_APPLY_ACCESS_KEY_SECRET": credentials["secret"],
                }
            },
            # pip finds rdsssl-reconcile installed already (this test's environment) and downloads nothing.
            variables={"RDSSSL_RECONCILE": "rdsssl-reconcile", "RDSSSL_ENDPOINT": emulator.endpoint},
            machine_env={
                "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",  # this machine is not an ECS instance
                "PIP_NO_INDEX": "1",
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            },
            approve=approve,
        )
        yield GitOps(tree, keys, emulator, github, runner, approvals)


# ---------------------------------------------------------------------------------------------------------
# The pull request: validate, plan, the saved plan as the comment, the file as the artifact.


def test_pull_request_comments_the_saved_plan_and_uploads_it(gitops: GitOps) -> None:
    job = gitops.open_pull_request()

    assert job.conclusion == "success", job.log
    assert job.step("Plan and save it").outputs == {"exitcode": "2"}  # changes to review
    assert job.step("Fail on a plan error").outcome == "skipped"
    saved = gitops.artifact(job, "reviewed-plan") / "reviewed.plan"
    assert saved.is_file()
    comment = gitops.github.comment_file(PR_NUMBER, "rds-ssl-plan").read_text()

    # The comment is the saved file rendered, not a second plan.
    shown = subprocess.run(
        [sys.executable, "-m", "rdsssl_reconcile", "show", str(saved), "--format", "markdown"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert comment == shown.stdout
    assert "**3 instances will restart" in comment
    for instance in ("pgm-shop-orders", "pgm-shop-analytics", "pgm-shop-billing"):
        assert f"| `{instance}` | change | **required" in comment
    assert "| `pgm-shop-payments` | in_sync |" in comment
    assert comment in job.summary

    plan = json.loads(saved.read_text())
    assert {i["id"]: (i["status"], i["restart"]) for i in plan["instances"]} == {
        "pgm-shop-analytics": ("change", "required"),
        "pgm-shop-billing": ("change", "required"),
        "pgm-shop-orders": ("change", "required"),
        "pgm-shop-payments": ("in_sync", "not_required"),
    }
    assert gitops.modify_calls() == []  # a pull request reads, never changes
    assert_no_key_material(gitops.all_text(job), *gitops.keys.values())


def test_pull_request_with_a_plan_error_still_comments_then_fails(gitops: GitOps) -> None:
    """A spec naming an instance that does not exist: the reviewer sees why in the comment; the check is red."""
    (gitops.tree / "specs" / "typo.yaml").write_text(
        "instances:\n  - id: pgm-shop-ordres\n    region: cn-hangzhou\n    ssl: {enabled: false}\n"
    )

    job = gitops.open_pull_request()

    assert job.conclusion == "failure"
    assert job.step("Plan and save it").outputs == {"exitcode": "1"}
    assert job.step("Fail on a plan error").outcome == "failure"
    comment = gitops.github.comment_file(PR_NUMBER, "rds-ssl-plan").read_text()
    assert "pgm-shop-ordres" in comment
    assert comment.index("[!CAUTION]") < comment.index("pgm-shop-ordres")
    # A plan with errors is never saved, so there is nothing for the merge job to apply.
    assert job.step("Keep the reviewed plan for the merge").outcome == "skipped"
    assert not (gitops.artifact(job, "reviewed-plan") / "reviewed.plan").exists()


def test_pull_request_gets_one_comment_updated_on_each_push(gitops: GitOps) -> None:
    first = gitops.open_pull_request()
    second = gitops.open_pull_request()

    assert first.conclusion == second.conclusion == "success"
    comments = list((gitops.github.root / "comments" / f"pr-{PR_NUMBER}").iterdir())
    assert [c.name for c in comments] == ["rds-ssl-plan.md"]
    assert "updated the sticky comment" in second.step("Post or update the plan comment").log


# ---------------------------------------------------------------------------------------------------------
# The merge: that artifact, applied behind the environment, then an empty plan.


def test_merge_applies_the_reviewed_plan_and_the_replan_is_empty(gitops: GitOps) -> None:
    reviewed = gitops.open_pull_request()
    job = gitops.merge()

    assert gitops.approvals == ["production"]
    assert job.environment == "production"
    assert job.conclusion == "success", job.log
    assert f"plan run {reviewed.run_id}" in job.step("Find the pull request's plan run").log
    assert "Apply: 3 applied" in job.step("Apply exactly the reviewed plan").log
    replan = job.step("Plan again, expecting nothing to change")
    assert (replan.outcome, replan.exit_code) == ("success", 0)
    assert "Plan: 0 to change, 0 restarts, 4 in sync" in replan.log
    assert sorted(call["instance_id"] for call in gitops.modify_calls()) == [
        "pgm-shop-analytics",
        "pgm-shop-billing",
        "pgm-shop-orders",
    ]
    applied = gitops.artifact(job, "applied")
    assert len((applied / "audit.jsonl").read_text().splitlines()) >= 3
    assert (applied / "reviewed" / "reviewed.plan").read_bytes() == (
        gitops.artifact(reviewed, "reviewed-plan") / "reviewed.plan"
    ).read_bytes()
    # The step summary is the reviewed plan, as the pull request's comment showed it.
    assert gitops.github.comment_file(PR_NUMBER, "rds-ssl-plan").read_text() in job.summary
    assert_no_key_material(gitops.all_text(reviewed, job), *gitops.keys.values())


def test_merge_waits_for_the_environment_approval(gitops: GitOps) -> None:
    gitops.open_pull_request()
    gitops.runner.approve = lambda environment: False

    job = gitops.merge()

    assert job.conclusion == "rejected"
    assert job.steps == ()
    assert gitops.modify_calls() == []


def test_merge_refuses_a_plan_whose_specs_moved_after_the_review(gitops: GitOps, tmp_path: Path) -> None:
    """Another change reached main after the review: the reviewed file is refused whole, nothing changes."""
    gitops.open_pull_request()
    moved = tmp_path / "moved"
    shutil.copytree(gitops.tree, moved)
    billing = moved / "specs" / "billing.yaml"
    billing.write_text(billing.read_text().replace("validity_days: 365", "validity_days: 180"))

    job = gitops.merge(moved)

    assert job.conclusion == "failure"
    applied = job.step("Apply exactly the reviewed plan")
    assert applied.outcome == "failure"
    assert "pgm-shop-billing" in applied.log
    assert job.step("Plan again, expecting nothing to change").outcome == "skipped"
    assert gitops.modify_calls() == []


# ---------------------------------------------------------------------------------------------------------
# Nightly drift (needs the drift command and its renderers).


@pytest.fixture
def drift_command() -> None:
    """The nightly job runs ``rdsssl-reconcile drift --report junit=... html=... prometheus=...``: say so when absent."""
    from rdsssl_reconcile.cli import run

    try:
        from rdsssl_reconcile.cli.drift_cmd import renderers
    except ImportError:
        pytest.fail(
            "the nightly workflow needs the drift command (rdsssl_reconcile/cli/drift_cmd.py), not on this branch"
        )
    missing = {"markdown", "json", "junit", "html", "prometheus"} - set(renderers(max_bytes=65536))
    if missing:
        pytest.fail(f"the nightly workflow writes drift reports this version cannot write: {sorted(missing)}")
    assert run(["drift", "--help"]) == 0


def _ignore_rule() -> dict[str, Any]:
    """The example's one ignore rule, as the example's file states it."""
    (rule,) = yaml.safe_load((EXAMPLE / "specs" / ".rdsssl-ignore.yaml").read_text())["ignore"]
    return dict(rule)


def _relax_analytics_acl(gitops: GitOps) -> None:
    """In the console, the data team sets the client-certificate check of pgm-shop-analytics to 'prefer'."""
    live = gitops.emulator.admin.instance("pgm-shop-analytics")["ssl"]
    gitops.emulator.admin.set_instance(
        "pgm-shop-analytics",
        ssl={
            "enabled": True,
            "ca_type": "custom",
            "endpoints": ["pgm-shop-analytics.pg.rds.aliyuncs.com", "pgm-shop-analyticso.pg.rds.aliyuncs.com"],
            "server_cert": live["server_cert"],
            "server_key": gitops.keys["ANALYTICS_SERVER_KEY"],
            "client_ca_cert": live["client_ca_cert"],
            "acl": "prefer",
        },
    )


def test_nightly_drift_after_a_console_change_reports_and_opens_one_issue(drift_command: None, gitops: GitOps) -> None:
    from junitparser import Failure, JUnitXml
    from prometheus_client.parser import text_string_to_metric_families

    gitops.open_pull_request()
    assert gitops.merge().conclusion == "success"
    modifies = len(gitops.modify_calls())
    # Someone turns SSL off in the console; the data team relaxes an ACL the ignore file accepts.
    gitops.emulator.admin.set_instance("pgm-shop-orders", ssl={"enabled": False})
    _relax_analytics_acl(gitops)

    job = gitops.nightly()

    assert job.conclusion == "failure", job.log
    assert job.step("Download what it applied").outcome == "success"  # the apply run's evidence
    assert job.step("Drift (read-only)").outputs == {"exitcode": "2"}
    assert job.step("End with drift's exit code").exit_code == 2
    reports = gitops.artifact(job, "drift-reports")
    assert sorted(p.name for p in reports.iterdir()) == [
        "drift-junit.xml",
        "drift.html",
        "drift.json",
        "drift.md",
        "rdsssl.prom",
    ]
    document = json.loads((reports / "drift.json").read_text())
    by_id = {i["id"]: i for i in document["instances"]}
    assert by_id["pgm-shop-orders"]["status"] == "drifted"
    assert "ssl.enabled" in {f["field"] for f in by_id["pgm-shop-orders"]["fields"]}
    acl = next(f for f in by_id["pgm-shop-analytics"]["fields"] if f["field"] == "ssl.client_ca.acl")
    rule = _ignore_rule()
    if datetime.now(UTC).date() < rule["expires"]:  # the rule still applies: listed, not counted
        assert (acl["ignored"], by_id["pgm-shop-analytics"]["status"]) == (True, "in_sync")
        assert acl["ignore_reason"] == rule["reason"]
    else:
        assert (acl["ignored"], by_id["pgm-shop-analytics"]["status"]) == (False, "drifted")
    assert {by_id[i]["status"] for i in ("pgm-shop-billing", "pgm-shop-payments")} == {"in_sync"}

    cases = {case.name: case for suite in JUnitXml.fromfile(str(reports / "drift-junit.xml")) for case in suite}
    assert any(isinstance(r, Failure) for r in cases["pgm-shop-orders"].result)
    assert not any(isinstance(r, Failure) for r in cases["pgm-shop-payments"].result)
    drifted = {
        sample.labels["instance"]: sample.value
        for family in text_string_to_metric_families((reports / "rdsssl.prom").read_text())
        for sample in family.samples
        if sample.name == "rdsssl_instance_drifted"
    }
    assert drifted["pgm-shop-orders"] == 1
    assert drifted["pgm-shop-payments"] == 0
    html = (reports / "drift.html").read_text()
    assert "pgm-shop-orders" in html
    assert "<script src=" not in html

    (issue,) = gitops.github.issues()
    assert issue["state"] == "OPEN"
    assert issue["labels"] == ["rdsssl-drift"]
    assert "pgm-shop-orders" in issue["body"]
    assert issue["body"] == (reports / "drift.md").read_text()
    assert len(gitops.modify_calls()) == modifies  # drift is read-only

    again = gitops.nightly()
    assert again.conclusion == "failure"
    (updated,) = gitops.github.issues()  # the same issue, updated, not a second one
    assert updated["number"] == issue["number"]
    assert len(updated["comments"]) == 1
    assert_no_key_material(gitops.all_text(job, again), *gitops.keys.values())

    # Put it right the GitOps way (a pull request's plan, applied on merge): the next night closes the issue.
    assert gitops.open_pull_request().conclusion == "success"
    assert "| `pgm-shop-orders` | change |" in gitops.github.comment_file(PR_NUMBER, "rds-ssl-plan").read_text()
    assert gitops.merge().conclusion == "success"  # orders' SSL back on, analytics' ACL back to verify-ca
    fixed = gitops.nightly()
    assert fixed.conclusion == "success", fixed.log
    (closed,) = gitops.github.issues()
    assert closed["state"] == "CLOSED"
    assert closed["comments"][-1].startswith("No drift found by https://github.com/")


def test_nightly_drift_tells_a_merged_but_unapplied_spec_from_drift(
    drift_command: None, gitops: GitOps, tmp_path: Path
) -> None:
    """Main moved on (orders to be switched off) and nobody applied it: pending, with the apply's evidence."""
    gitops.open_pull_request()
    assert gitops.merge().conclusion == "success"
    moved = tmp_path / "moved"
    shutil.copytree(gitops.tree, moved)
    orders = moved / "specs" / "orders.yaml"
    orders.write_text(
        orders.read_text().replace(
            "      enabled: true\n      endpoints: [pgm-shop-orders.pg.rds.aliyuncs.com]\n      certificate: {source: aliyun}\n",
            "      enabled: false\n",
        )
    )
    assert "enabled: false" in orders.read_text()

    job = gitops.nightly(moved)

    assert job.step("Drift (read-only)").outputs == {"exitcode": "2"}, job.log
    document = json.loads((gitops.artifact(job, "drift-reports") / "drift.json").read_text())
    assert {i["id"]: i["status"] for i in document["instances"]}["pgm-shop-orders"] == "pending"
    (issue,) = gitops.github.issues()
    assert "pgm-shop-orders" in issue["body"]


def test_nightly_drift_in_sync_opens_no_issue(drift_command: None, gitops: GitOps) -> None:
    gitops.open_pull_request()
    assert gitops.merge().conclusion == "success"

    job = gitops.nightly()

    assert job.conclusion == "success", job.log
    assert job.step("Drift (read-only)").outputs == {"exitcode": "0"}
    assert job.step("Open or update the drift issue").outcome == "skipped"
    assert job.step("End with drift's exit code").exit_code == 0
    assert (gitops.artifact(job, "drift-reports") / "drift.json").is_file()
    assert gitops.github.issues() == []


# ---------------------------------------------------------------------------------------------------------
# The runner itself: what it refuses, and GitHub's rules it follows.


def _every_step() -> list[tuple[str, dict[str, object]]]:
    steps = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        document = yaml.safe_load(path.read_text())
        for job in document["jobs"].values():
            steps += [(path.name, step) for step in job["steps"]]
    return steps


def test_the_example_uses_only_stubbed_actions_and_plain_bash_scripts() -> None:
    steps = _every_step()
    assert {name for name, _ in steps} == {"pull-request.yml", "apply.yml", "drift.yml"}
    for name, step in steps:
        if "uses" in step:
            action, _, version = str(step["uses"]).partition("@")
            assert (action, version) in ACTIONS, f"{name}: {step['uses']}"
        else:
            # Values reach scripts through env:, never pasted into the script text (no script injection,
            # and the script is the same bash on GitHub, in this runner and in a terminal).
            assert "${{" not in str(step["run"]), f"{name}: {step.get('name')}"


def test_every_run_step_passes_shellcheck() -> None:
    """What actionlint does for run: scripts, with the real shellcheck (.ci/run installs it)."""
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (.ci/run installs it)")
    for name, step in _every_step():
        if "run" in step:
            checked = subprocess.run(
                [shellcheck, "--shell=bash", "--severity=style", "-"],
                input=str(step["run"]),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert checked.returncode == 0, f"{name}: {step.get('name')}:\n{checked.stdout}"


def _tiny_workflow(
    tmp_path: Path, steps: list[dict[str, object]], permissions: dict[str, str] | None = None
) -> tuple[WorkflowRunner, Path, Event]:
    github = FakeGitHub(tmp_path / "github")
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "hello.txt").write_text("hello\n")
    workflow = tmp_path / "w.yml"
    job: dict[str, object] = {"runs-on": "ubuntu-latest", "steps": steps}
    if permissions is not None:
        job["permissions"] = permissions
    workflow.write_text(yaml.safe_dump({"name": "t", "on": {"push": {}}, "jobs": {"j": job}}))
    runner = WorkflowRunner(github=github, work_root=tmp_path / "runner", python_bin=BIN)
    return runner, workflow, Event("push", sha=github.commit(tree))


def test_an_unknown_action_fails_the_harness(tmp_path: Path) -> None:
    runner, workflow, event = _tiny_workflow(tmp_path, [{"uses": "actions/github-script@v7", "with": {"script": "1"}}])
    with pytest.raises(UnsupportedWorkflow, match="actions/github-script@v7"):
        runner.run(workflow, event)


def test_an_unknown_input_of_a_stubbed_action_fails_the_harness(tmp_path: Path) -> None:
    runner, workflow, event = _tiny_workflow(
        tmp_path, [{"uses": "actions/checkout@v4", "with": {"submodules": "true"}}]
    )
    with pytest.raises(UnsupportedWorkflow, match="submodules"):
        runner.run(workflow, event)


def test_an_unfaked_gh_command_fails_the_harness(tmp_path: Path) -> None:
    runner, workflow, event = _tiny_workflow(
        tmp_path, [{"run": "gh pr merge 7 --squash", "env": {"GH_TOKEN": "${{ github.token }}"}}]
    )
    with pytest.raises(UnsupportedWorkflow, match="pr merge"):
        runner.run(workflow, event)


def test_gh_gets_only_what_the_job_permissions_grant(tmp_path: Path) -> None:
    """A workflow that forgets a permission fails here as it would on GitHub (HTTP 403)."""
    runner, workflow, event = _tiny_workflow(
        tmp_path,
        [
            {"name": "no token", "run": "gh issue list"},
            {"name": "read", "if": "always()", "run": "gh issue list", "env": {"GH_TOKEN": "${{ github.token }}"}},
            {"name": "write", "if": "always()", "run": "gh label create x", "env": {"GH_TOKEN": "${{ github.token }}"}},
        ],
        permissions={"issues": "read"},
    )
    (job,) = runner.run(workflow, event)
    assert "set the GH_TOKEN environment variable" in job.step("no token").log
    assert job.step("read").outcome == "success", job.log
    assert job.step("write").outcome == "failure"
    assert "HTTP 403" in job.step("write").log


def test_steps_run_in_order_with_outputs_env_and_status_conditions(tmp_path: Path) -> None:
    runner, workflow, event = _tiny_workflow(
        tmp_path,
        [
            {"uses": "actions/checkout@v4"},
            {"id": "a", "run": 'echo "n=$(cat hello.txt)" >> "$GITHUB_OUTPUT"; echo "FROM_A=yes" >> "$GITHUB_ENV"'},
            {"name": "uses both", "run": 'test "$FROM_A" = yes && test "${{ steps.a.outputs.n }}" = hello'},
            {"name": "fails", "run": "false; echo not reached"},
            {"name": "after failure", "run": "echo skipped"},
            {"name": "on failure", "if": "failure()", "run": "echo ran on failure"},
            {"name": "always", "if": "${{ always() }}", "run": "echo \"${{ steps.a.outputs.missing || 'fallback' }}\""},
        ],
    )
    (job,) = runner.run(workflow, event)
    assert job.conclusion == "failure"
    outcomes = {s.name: s.outcome for s in job.steps}
    assert outcomes["uses both"] == "success", job.log
    assert (outcomes["fails"], outcomes["after failure"], outcomes["on failure"]) == ("failure", "skipped", "success")
    assert "not reached" not in job.step("fails").log  # bash -e, as GitHub runs it
    assert job.step("always").log.strip() == "fallback"


def test_expressions_follow_github_rules() -> None:
    contexts = {"steps": {"s": {"outputs": {"code": "2"}}}, "env": {}, "vars": {}}

    def status(name: str) -> bool:
        return name != "failure"

    assert condition("steps.s.outputs.code == '2'", contexts, status)
    assert condition("${{ steps.s.outputs.code != '1' }}", contexts, status)
    assert not condition("steps.s.outputs.code == '2'", contexts, lambda name: name == "failure")  # implicit success()
    assert condition("failure() || steps.s.outputs.code == 2", contexts, status)
    assert condition("'ABC' == 'abc'", contexts, status)  # strings compare case-insensitively
    assert interpolate("x${{ vars.NOPE || 'd' }}y${{ steps.s.outputs.code }}", contexts) == "xdy2"
    with pytest.raises(UnsupportedWorkflow, match="hashFiles"):
        condition("hashFiles('x') != ''", contexts, status)
    with pytest.raises(UnsupportedWorkflow, match="unknown context"):
        interpolate("${{ matrix.region }}", contexts)
