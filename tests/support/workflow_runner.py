"""A stand-in GitHub Actions runner: runs a workflow's jobs on this machine, for the GitOps example's tests.

Why: the example's workflows are only worth something if their ``run:`` steps really work, in order, with
the outputs, environment and conditions GitHub gives them. So this runner executes every ``run:`` step
with bash as GitHub does (``bash -e {0}``, or ``bash --noprofile --norc -eo pipefail {0}`` for
``shell: bash``) in a fresh workspace per job, with ``GITHUB_OUTPUT``, ``GITHUB_ENV``, ``GITHUB_PATH`` and
``GITHUB_STEP_SUMMARY`` files, ``${{ }}`` expressions evaluated from a small table (github, env, vars,
secrets, steps, job, runner), and ``if:`` conditions with ``success()``, ``failure()``, ``always()``.

What only GitHub has is replaced by files on disk (:class:`FakeGitHub`): ``uses:`` actions are stubs
(checkout copies the commit's tree, upload/download-artifact copy to and from an artifacts directory,
the sticky comment writes its body to a file, setup-python does nothing) and ``gh`` is
``tests/support/fake_gh.py`` on ``PATH``. Anything else fails loudly (:class:`UnsupportedWorkflow`): an
action, an action input, an expression function, a ``gh`` command or a job feature that is not stubbed
here, so the example cannot silently depend on something the tests never ran.

The event's ``paths``/``branches`` filters are GitHub's business: the test says which workflow an event
starts. The workspace has the same path for every job (as on GitHub, ``/home/runner/work/REPO/REPO``), emptied
between jobs: a file saved by one job and read by another must travel as an artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FAKE_GH = Path(__file__).with_name("fake_gh.py")
STEP_TIMEOUT_SECONDS = 600.0


class UnsupportedWorkflow(Exception):
    """The workflow uses something this runner does not stub: the test must fail, not pass around it."""


class StepFailed(Exception):
    """A stubbed action failed, as the real action would (a missing file, a missing pull request)."""


# ---------------------------------------------------------------------------------------------------------
# The world outside the runner: commits, pull requests, runs, artifacts, comments, issues.


@dataclass
class FakeGitHub:
    """GitHub's side, as files: ``github.json`` (pulls, runs, issues, labels, comments) and directories.

    ``fake_gh.py`` reads and writes the same ``github.json``, so ``gh`` in a step and the stubs agree.
    """

    root: Path
    repository: str = "example/shop-db"

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.state_file.exists():
            self._save({"repository": self.repository, "pulls": [], "runs": [], "issues": [], "labels": []})

    @property
    def state_file(self) -> Path:
        return self.root / "github.json"

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_file.read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def _save(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(self.state_file)

    def commit(self, tree: Path, salt: str = "") -> str:
        """Store a snapshot of ``tree`` as a commit; its sha hashes its files (names, bytes) and ``salt``.

        ``salt`` stands for what makes two commits of one tree differ (a merge commit and the pull
        request's head have the same files and different shas).
        """
        digest = hashlib.sha1(salt.encode(), usedforsecurity=False)
        for path in sorted(p for p in tree.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(tree)).encode() + b"\0" + path.read_bytes() + b"\0")
        sha = digest.hexdigest()
        target = self.root / "commits" / sha
        if not target.exists():
            shutil.copytree(tree, target, symlinks=True)
        return sha

    def commit_tree(self, sha: str) -> Path:
        tree = self.root / "commits" / sha
        if not tree.is_dir():
            raise StepFailed(f"checkout: no commit {sha}")
        return tree

    def open_pull_request(self, number: int, head_sha: str, base: str = "main") -> None:
        state = self.state()
        state["pulls"].append({"number": number, "head_sha": head_sha, "base": base, "merge_commit_sha": None})
        self._save(state)

    def merge_pull_request(self, number: int, merge_sha: str) -> None:
        state = self.state()
        for pull in state["pulls"]:
            if pull["number"] == number:
                pull["merge_commit_sha"] = merge_sha
        self._save(state)

    def record_run(self, run: dict[str, Any]) -> None:
        state = self.state()
        state["runs"].append(run)
        self._save(state)

    def issue_token(self, run_id: int, job_id: str, permissions: Mapping[str, str]) -> str:
        """The job's GITHUB_TOKEN: ``fake_gh.py`` and the stubs grant what its permissions grant, no more."""
        token = f"ghs_run{run_id}_{job_id}"
        state = self.state()
        state.setdefault("tokens", {})[token] = dict(permissions)
        self._save(state)
        return token

    def permitted(self, token: str, scope: str, level: str) -> bool:
        granted = self.state().get("tokens", {}).get(token)
        return granted is not None and LEVELS.index(granted.get(scope, "none")) >= LEVELS.index(level)

    def artifact_dir(self, run_id: int, name: str) -> Path:
        return self.root / "artifacts" / str(run_id) / name

    def comment_file(self, number: int, header: str) -> Path:
        return self.root / "comments" / f"pr-{number}" / f"{header or 'default'}.md"

    def issues(self) -> list[dict[str, Any]]:
        return list(self.state()["issues"])

    def unsupported_calls(self) -> list[str]:
        log = self.root / "unsupported.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


@dataclass(frozen=True)
class Event:
    """What triggered the run: ``name`` is github.event_name, ``payload`` github.event."""

    name: str
    sha: str
    ref: str = "refs/heads/main"
    payload: Mapping[str, Any] = field(default_factory=dict)


LEVELS = ("none", "read", "write")
SCOPES = (
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "metadata",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
)
#: A repository whose default GITHUB_TOKEN is "restricted" (GitHub's default for new repositories).
DEFAULT_PERMISSIONS = {"contents": "read", "packages": "read", "metadata": "read"}


def job_permissions(document: Mapping[str, Any], job: Mapping[str, Any]) -> dict[str, str]:
    """The job's ``permissions`` (else the workflow's, else the restricted default); unlisted scopes: none."""
    declared = job.get("permissions", document.get("permissions"))
    if declared is None:
        return dict(DEFAULT_PERMISSIONS)
    if declared in ("read-all", "write-all"):
        return dict.fromkeys(SCOPES, declared.removesuffix("-all"))
    if not isinstance(declared, Mapping):
        raise UnsupportedWorkflow(f"permissions: {declared!r} is not supported by the test runner")
    granted = {"metadata": "read"}
    for scope, level in declared.items():
        if scope not in SCOPES or level not in LEVELS:
            raise UnsupportedWorkflow(f"permissions: {scope}: {level} is not a GitHub permission")
        granted[str(scope)] = str(level)
    return granted


# ---------------------------------------------------------------------------------------------------------
# Expressions: ${{ ... }}, the subset GitHub documents for contexts, literals, operators and status checks.

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\].,*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise UnsupportedWorkflow(f"cannot read the expression {text!r} at {text[pos:]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and value == value  # NaN is falsy


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _loose_equal(a: Any, b: Any) -> bool:
    """GitHub's ``==``: numbers compare as numbers, strings case-insensitively, null as ''."""
    sa, sb = to_string(a), to_string(b)
    try:
        return float(sa) == float(sb)
    except ValueError:
        return sa.casefold() == sb.casefold()


class Expression:
    """A recursive-descent evaluator over one expression's tokens."""

    def __init__(self, text: str, contexts: Mapping[str, Any], status: Callable[[str], bool]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.status = status
        self.used_status = False

    def evaluate(self) -> Any:
        value = self._or()
        if self.pos != len(self.tokens):
            raise UnsupportedWorkflow(f"unexpected {self.tokens[self.pos][1]!r} in expression {self.text!r}")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise UnsupportedWorkflow(f"expression {self.text!r} ends early")
        token = self.tokens[self.pos]
        if expected is not None and token[1] != expected:
            raise UnsupportedWorkflow(f"expected {expected!r}, found {token[1]!r} in {self.text!r}")
        self.pos += 1
        return token

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = value if truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._not()
        while self._peek() == "&&":
            self._take()
            right = self._not()
            value = right if truthy(value) else value
        return value

    def _not(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._not())
        return self._comparison()

    def _comparison(self) -> Any:
        left = self._primary()
        op = self._peek()
        if op in ("==", "!="):
            self._take()
            right = self._primary()
            equal = _loose_equal(left, right)
            return equal if op == "==" else not equal
        if op in ("<", ">", "<=", ">="):
            raise UnsupportedWorkflow(f"ordering comparisons are not supported by the test runner: {self.text!r}")
        return left

    def _primary(self) -> Any:
        kind, token = self._take()
        if token == "(":
            inner = self._or()
            self._take(")")
            return inner
        if kind == "num":
            return float(token)
        if kind == "str":
            return token[1:-1].replace("''", "'")
        if kind != "name":
            raise UnsupportedWorkflow(f"unexpected {token!r} in expression {self.text!r}")
        if token in ("true", "false"):
            return token == "true"
        if token == "null":
            return None
        if self._peek() == "(":
            return self._call(token)
        if token not in self.contexts:
            raise UnsupportedWorkflow(
                f"unknown context {token!r} in {self.text!r} (the test runner has {sorted(self.contexts)})"
            )
        value: Any = self.contexts[token]
        while self._peek() in (".", "["):
            if self._take()[1] == ".":
                key = self._take()[1]
            else:
                key = to_string(self._or())
                self._take("]")
            value = value.get(key) if isinstance(value, Mapping) else None
        return value

    def _call(self, name: str) -> Any:
        self._take("(")
        args: list[Any] = []
        while self._peek() != ")":
            args.append(self._or())
            if self._peek() == ",":
                self._take()
        self._take(")")
        if name in STATUS_FUNCTIONS:
            self.used_status = True
            return self.status(name)
        if name == "contains" and len(args) == 2:
            haystack, needle = args
            if isinstance(haystack, list):
                return any(_loose_equal(item, needle) for item in haystack)
            return to_string(needle).casefold() in to_string(haystack).casefold()
        if name in ("startsWith", "endsWith") and len(args) == 2:
            a, b = to_string(args[0]).casefold(), to_string(args[1]).casefold()
            return a.startswith(b) if name == "startsWith" else a.endswith(b)
        raise UnsupportedWorkflow(f"the function {name}() is not supported by the test runner ({self.text!r})")


_INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(text: Any, contexts: Mapping[str, Any], status: Callable[[str], bool] | None = None) -> str:
    """Replace every ``${{ expr }}`` in ``text`` by its value as a string, as GitHub does before running."""
    no_status = status or (lambda name: _status_outside_steps(name))
    return _INTERPOLATION.sub(
        lambda m: to_string(Expression(m.group(1), contexts, no_status).evaluate()), to_string(text)
    )


def _status_outside_steps(name: str) -> bool:
    raise UnsupportedWorkflow(f"{name}() is only supported in if: conditions by the test runner")


def condition(text: Any, contexts: Mapping[str, Any], status: Callable[[str], bool]) -> bool:
    """An ``if:``: with or without ``${{ }}``; without a status function it means ``success() && (...)``."""
    if text is None:
        return status("success")
    source = to_string(text).strip()
    whole = _INTERPOLATION.fullmatch(source)
    if whole:
        source = whole.group(1)
    elif "${{" in source:
        raise UnsupportedWorkflow(f"an if: mixing text and ${{{{ }}}} is not supported: {source!r}")
    expression = Expression(source, contexts, status)
    value = truthy(expression.evaluate())
    return value if expression.used_status else value and status("success")


# ---------------------------------------------------------------------------------------------------------
# Results.


@dataclass(frozen=True)
class StepResult:
    name: str
    outcome: str  # success | failure | skipped
    exit_code: int | None
    log: str
    outputs: Mapping[str, str]


@dataclass(frozen=True)
class JobResult:
    workflow: str
    job: str
    run_id: int
    conclusion: str  # success | failure | skipped | rejected (the environment's reviewer said no)
    environment: str | None
    steps: tuple[StepResult, ...]
    summary: str

    def step(self, name: str) -> StepResult:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(f"no step {name!r}; steps: {[s.name for s in self.steps]}")

    @property
    def log(self) -> str:
        return "\n".join(f"--- {s.name} [{s.outcome}, exit {s.exit_code}]\n{s.log}" for s in self.steps)


# ---------------------------------------------------------------------------------------------------------
# Stubs of the actions the example uses: (owner/name, major version) -> (accepted inputs, handler).


@dataclass
class StepContext:
    runner: WorkflowRunner
    event: Event
    run_id: int
    workspace: Path
    log: list[str]
    token: str


ActionHandler = Callable[[StepContext, Mapping[str, str]], Mapping[str, str]]


def _checkout(ctx: StepContext, inputs: Mapping[str, str]) -> Mapping[str, str]:
    tree = ctx.runner.github.commit_tree(ctx.event.sha)
    shutil.copytree(tree, ctx.workspace, dirs_exist_ok=True, symlinks=True)
    ctx.log.append(f"checked out {ctx.event.sha} into {ctx.workspace}")
    return {}


def _setup_python(ctx: StepContext, inputs: Mapping[str, str]) -> Mapping[str, str]:
    if not inputs.get("python-version"):
        raise StepFailed("setup-python: the stub expects python-version")
    ctx.log.append(f"setup-python {inputs['python-version']}: the runner's own Python ({sys.version.split()[0]})")
    return {}


def _no_globs(path: str) -> None:
    if any(ch in path for ch in "*?[!"):
        raise UnsupportedWorkflow(f"upload-artifact: glob patterns are not supported by the stub ({path!r})")


def _upload_artifact(ctx: StepContext, inputs: Mapping[str, str]) -> Mapping[str, str]:
    name = inputs.get("name") or "artifact"
    paths = [line.strip() for line in inputs.get("path", "").splitlines() if line.strip()]
    if not paths:
        raise StepFailed("upload-artifact: input required and not supplied: path")
    include_hidden = inputs.get("include-hidden-files", "false") == "true"
    found: list[Path] = []
    for raw in paths:
        _no_globs(raw)
        path = (ctx.workspace / raw).resolve()
        if path.is_dir():
            found += [p for p in path.rglob("*") if p.is_file() and (include_hidden or not _hidden(p, path))]
        elif path.is_file():
            found.append(path)
    if not found:
        mode = inputs.get("if-no-files-found", "warn")
        message = f"No files were found with the provided path: {' '.join(paths)}. No artifacts will be uploaded."
        if mode == "error":
            raise StepFailed(message)
        ctx.log.append(("Warning: " if mode == "warn" else "") + message)
        return {}
    if len(paths) == 1 and (ctx.workspace / paths[0]).is_dir():
        root = (ctx.workspace / paths[0]).resolve()
    else:
        root = Path(os.path.commonpath([str(p.parent) for p in found]))
    target = ctx.runner.github.artifact_dir(ctx.run_id, name)
    if target.exists():
        if inputs.get("overwrite", "false") != "true":
            raise StepFailed(f"upload-artifact: an artifact named {name!r} already exists in this run")
        shutil.rmtree(target)
    for path in found:
        destination = target / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    ctx.log.append(f"uploaded artifact {name!r}: {len(found)} file(s)")
    return {"artifact-id": f"{ctx.run_id}-{name}"}


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _download_artifact(ctx: StepContext, inputs: Mapping[str, str]) -> Mapping[str, str]:
    name = inputs.get("name")
    if not name:
        raise UnsupportedWorkflow("download-artifact: the stub downloads one artifact by name only")
    run_id_text = inputs.get("run-id", "")
    if run_id_text and not inputs.get("github-token"):
        raise StepFailed("download-artifact: github-token is required to download from another run (run-id)")
    if run_id_text and not ctx.runner.github.permitted(inputs["github-token"], "actions", "read"):
        raise StepFailed("download-artifact: HttpError: Resource not accessible by integration (needs actions: read)")
    if inputs.get("run-id") is not None and not run_id_text:
        raise StepFailed("download-artifact: run-id is empty")
    run_id = int(run_id_text) if run_id_text else ctx.run_id
    source = ctx.runner.github.artifact_dir(run_id, name)
    if not source.is_dir():
        raise StepFailed(f"Unable to download artifact(s): Artifact not found for name: {name} (run {run_id})")
    destination = ctx.workspace / inputs.get("path", ".")
    shutil.copytree(source, destination, dirs_exist_ok=True)
    ctx.log.append(f"downloaded artifact {name!r} of run {run_id} into {destination}")
    return {"download-path": str(destination)}


def _sticky_comment(ctx: StepContext, inputs: Mapping[str, str]) -> Mapping[str, str]:
    number_text = inputs.get("number") or to_string((ctx.event.payload.get("pull_request") or {}).get("number"))
    if not number_text:
        raise StepFailed("sticky-pull-request-comment: no issue or pull request number")
    if inputs.get("path"):
        body = (ctx.workspace / inputs["path"]).read_text(encoding="utf-8")
    elif inputs.get("message"):
        body = inputs["message"]
    else:
        raise StepFailed("sticky-pull-request-comment: either message or path input is required")
    token = inputs.get("GITHUB_TOKEN") or ctx.token
    if not ctx.runner.github.permitted(token, "pull-requests", "write"):
        raise StepFailed(
            "sticky-pull-request-comment: Resource not accessible by integration (needs pull-requests: write)"
        )
    target = ctx.runner.github.comment_file(int(float(number_text)), inputs.get("header", ""))
    target.parent.mkdir(parents=True, exist_ok=True)
    existed = target.exists()
    target.write_text(body, encoding="utf-8")
    ctx.log.append(f"{'updated' if existed else 'created'} the sticky comment on #{number_text}")
    return {"previous_comment_id": "1" if existed else ""}


ACTIONS: dict[tuple[str, str], tuple[frozenset[str], ActionHandler]] = {
    ("actions/checkout", "v4"): (frozenset({"fetch-depth"}), _checkout),
    ("actions/setup-python", "v5"): (frozenset({"python-version", "cache"}), _setup_python),
    ("actions/upload-artifact", "v4"): (
        frozenset({"name", "path", "retention-days", "if-no-files-found", "overwrite", "include-hidden-files"}),
        _upload_artifact,
    ),
    ("actions/download-artifact", "v4"): (
        frozenset({"name", "path", "run-id", "github-token", "repository"}),
        _download_artifact,
    ),
    ("marocchino/sticky-pull-request-comment", "v2"): (
        frozenset({"header", "path", "message", "number", "GITHUB_TOKEN"}),
        _sticky_comment,
    ),
}

WORKFLOW_KEYS = frozenset({"name", "run-name", "on", True, "permissions", "concurrency", "env", "defaults", "jobs"})
JOB_KEYS = frozenset(
    {
        "runs-on",
        "steps",
        "env",
        "if",
        "needs",
        "environment",
        "permissions",
        "timeout-minutes",
        "defaults",
        "name",
        "concurrency",
    }
)
STEP_KEYS = frozenset(
    {
        "name",
        "id",
        "run",
        "uses",
        "with",
        "env",
        "if",
        "shell",
        "working-directory",
        "continue-on-error",
        "timeout-minutes",
    }
)
SHELLS = {None: ["bash", "-e", "{0}"], "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"]}


# ---------------------------------------------------------------------------------------------------------
# The runner.


@dataclass
class WorkflowRunner:
    """Runs the jobs of one workflow file for one event; one instance can run many workflows in turn.

    ``secrets`` are repository secrets; ``environment_secrets[NAME]`` are added only for a job whose
    ``environment`` is NAME; ``approve(NAME)`` is the environment's required reviewer (False: rejected,
    the job does not run). ``machine_env`` is what the machine itself provides to every process.
    """

    github: FakeGitHub
    work_root: Path
    python_bin: Path
    secrets: Mapping[str, str] = field(default_factory=dict)
    environment_secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)
    machine_env: Mapping[str, str] = field(default_factory=dict)
    approve: Callable[[str], bool] = field(default=lambda _name: True)
    _next_run_id: int = 1000

    @property
    def workspace(self) -> Path:
        name = self.github.repository.split("/")[-1]
        return self.work_root / "work" / name / name

    def run(self, workflow_file: Path, event: Event) -> list[JobResult]:
        document = yaml.safe_load(workflow_file.read_text(encoding="utf-8"))
        unknown = set(document) - WORKFLOW_KEYS
        if unknown:
            raise UnsupportedWorkflow(
                f"{workflow_file.name}: keys not supported by the test runner: {sorted(map(str, unknown))}"
            )
        triggers = document.get("on", document.get(True))  # YAML 1.1 reads a bare `on:` key as True
        if event.name not in (triggers if isinstance(triggers, dict | list) else [triggers]):
            raise UnsupportedWorkflow(f"{workflow_file.name} is not triggered by {event.name!r} (on: {triggers})")
        self._next_run_id += 1
        run_id = self._next_run_id
        workflow_name = document.get("name") or workflow_file.name
        results: list[JobResult] = []
        done: dict[str, JobResult] = {}
        for job_id, job in self._ordered_jobs(document.get("jobs") or {}):
            result = self._run_job(workflow_file, document, job_id, job, event, run_id, done)
            done[job_id] = result
            results.append(result)
        conclusion = "success" if all(r.conclusion in ("success", "skipped") for r in results) else "failure"
        self.github.record_run(
            {
                "databaseId": run_id,
                "workflowName": workflow_name,
                "path": f".github/workflows/{workflow_file.name}",
                "event": event.name,
                "headSha": self._head_sha(event),
                "headBranch": event.ref.removeprefix("refs/heads/"),
                "status": "completed",
                "conclusion": conclusion,
            }
        )
        unsupported = self.github.unsupported_calls()
        if unsupported:
            raise UnsupportedWorkflow(
                "the workflow called gh commands the fake does not provide: " + "; ".join(unsupported)
            )
        return results

    @staticmethod
    def _head_sha(event: Event) -> str:
        pull = event.payload.get("pull_request") or {}
        return str((pull.get("head") or {}).get("sha") or event.sha)

    @staticmethod
    def _ordered_jobs(jobs: Mapping[str, Any]) -> list[tuple[str, Any]]:
        ordered: list[tuple[str, Any]] = []
        placed: set[str] = set()
        pending = dict(jobs)
        while pending:
            ready = [(job_id, job) for job_id, job in pending.items() if set(_as_list(job.get("needs"))) <= placed]
            if not ready:
                raise UnsupportedWorkflow(f"jobs with unmet or cyclic needs: {sorted(pending)}")
            for job_id, job in ready:
                ordered.append((job_id, job))
                placed.add(job_id)
                del pending[job_id]
        return ordered

    def _contexts(
        self, document: Mapping[str, Any], event: Event, run_id: int, secrets: Mapping[str, str], token: str
    ) -> dict[str, Any]:
        return {
            "github": {
                "event_name": event.name,
                "event": dict(event.payload),
                "sha": event.sha,
                "ref": event.ref,
                "repository": self.github.repository,
                "run_id": str(run_id),
                "run_number": str(run_id - 1000),
                "server_url": "https://github.com",
                "api_url": "https://api.github.com",
                "workflow": document.get("name", ""),
                "workspace": str(self.workspace),
                "actor": "octocat",
                "token": token,
            },
            "vars": dict(self.variables),
            "secrets": {**secrets, "GITHUB_TOKEN": token},
            "runner": {"os": "Linux", "arch": "X64", "temp": str(self.work_root / "runner-temp")},
            "env": {},
            "steps": {},
            "job": {"status": "success"},
        }

    def _run_job(
        self,
        workflow_file: Path,
        document: Mapping[str, Any],
        job_id: str,
        job: Mapping[str, Any],
        event: Event,
        run_id: int,
        done: Mapping[str, JobResult],
    ) -> JobResult:
        unknown = set(job) - JOB_KEYS
        if unknown:
            raise UnsupportedWorkflow(
                f"{workflow_file.name}: job {job_id}: keys not supported by the test runner: {sorted(unknown)}"
            )
        environment = job.get("environment")
        environment_name = environment.get("name") if isinstance(environment, Mapping) else environment
        secrets = {**self.secrets, **(self.environment_secrets.get(environment_name, {}) if environment_name else {})}
        token = self.github.issue_token(run_id, job_id, job_permissions(document, job))
        contexts = self._contexts(document, event, run_id, secrets, token)
        needs_ok = all(done[n].conclusion == "success" for n in _as_list(job.get("needs")))

        def job_status(name: str) -> bool:
            return {"success": needs_ok, "failure": not needs_ok, "always": True, "cancelled": False}[name]

        def result(conclusion: str, steps: tuple[StepResult, ...] = (), summary: str = "") -> JobResult:
            return JobResult(workflow_file.name, job_id, run_id, conclusion, environment_name, steps, summary)

        if not condition(job.get("if"), contexts, job_status):
            return result("skipped")
        if environment_name and not self.approve(environment_name):
            return result("rejected")

        if self.workspace.exists():
            shutil.rmtree(self.workspace)
        self.workspace.mkdir(parents=True)
        temp = self.work_root / "runner-temp"
        if temp.exists():
            shutil.rmtree(temp)
        temp.mkdir(parents=True)
        files = {
            name: temp / f"{name.lower()}-{uuid.uuid4().hex}"
            for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
        }
        summary_file = files["GITHUB_STEP_SUMMARY"]
        event_path = temp / "event.json"
        event_path.write_text(json.dumps(dict(event.payload)), encoding="utf-8")

        env: dict[str, str] = {}
        for scope in (document.get("env") or {}, job.get("env") or {}):
            for key, value in scope.items():
                env[key] = interpolate(value, {**contexts, "env": dict(env)})
        contexts["env"] = env
        defaults = ((job.get("defaults") or document.get("defaults") or {}).get("run")) or {}
        extra_path: list[str] = []
        steps: list[StepResult] = []
        failed = not needs_ok

        for index, step in enumerate(job.get("steps") or []):
            unknown = set(step) - STEP_KEYS
            if unknown:
                raise UnsupportedWorkflow(f"{workflow_file.name}: step {index}: keys not supported: {sorted(unknown)}")
            name = interpolate(step.get("name") or step.get("uses") or _first_line(step.get("run", "")), contexts)

            def step_status(fn: str, failed_now: bool = failed) -> bool:
                return {"success": not failed_now, "failure": failed_now, "always": True, "cancelled": False}[fn]

            step_id = step.get("id") or f"__step{index}"
            if not condition(step.get("if"), contexts, step_status):
                steps.append(StepResult(name, "skipped", None, "", {}))
                contexts["steps"][step_id] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
                continue
            step_env = dict(env)
            for key, value in (step.get("env") or {}).items():
                step_env[key] = interpolate(value, {**contexts, "env": step_env})
            for path in files.values():
                path.touch()
            files["GITHUB_OUTPUT"].write_text("", encoding="utf-8")
            if "uses" in step:
                outcome, code, log, outputs = self._uses(step, contexts, event, run_id, workflow_file.name)
            elif "run" in step:
                script = interpolate(step["run"], {**contexts, "env": step_env})
                shell = step.get("shell", defaults.get("shell"))
                if shell not in SHELLS:
                    raise UnsupportedWorkflow(f"shell {shell!r} is not supported by the test runner")
                cwd = self.workspace / interpolate(
                    step.get("working-directory", defaults.get("working-directory", ".")), contexts
                )
                process_env = {
                    **self._base_env(event, run_id, document, job_id, files, event_path, temp, extra_path),
                    **step_env,
                }
                outcome, code, log = self._bash(SHELLS[shell], script, process_env, cwd, temp, index)
                outputs = _read_key_values(files["GITHUB_OUTPUT"])
                for key, value in _read_key_values(files["GITHUB_ENV"]).items():
                    env[key] = value
                extra_path = [
                    line for line in files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines() if line
                ] + extra_path
                files["GITHUB_ENV"].write_text("", encoding="utf-8")
                files["GITHUB_PATH"].write_text("", encoding="utf-8")
            else:
                raise UnsupportedWorkflow(f"{workflow_file.name}: step {index} has neither run nor uses")
            tolerated = outcome == "failure" and _truthy_text(step.get("continue-on-error"))
            conclusion = "success" if tolerated else outcome
            contexts["steps"][step_id] = {"outputs": outputs, "outcome": outcome, "conclusion": conclusion}
            steps.append(StepResult(name, outcome, code, log, outputs))
            if conclusion == "failure":
                failed = True
                contexts["job"]["status"] = "failure"
        summary = summary_file.read_text(encoding="utf-8") if summary_file.exists() else ""
        return result("failure" if failed else "success", tuple(steps), summary)

    def _uses(
        self, step: Mapping[str, Any], contexts: Mapping[str, Any], event: Event, run_id: int, workflow: str
    ) -> tuple[str, int | None, str, Mapping[str, str]]:
        action, _, version = str(step["uses"]).partition("@")
        stub = ACTIONS.get((action, version))
        if stub is None:
            known = ", ".join(f"{a}@{v}" for a, v in ACTIONS)
            raise UnsupportedWorkflow(
                f"{workflow}: the action {step['uses']!r} is not stubbed by the test runner (known: {known})"
            )
        accepted, handler = stub
        inputs = {str(k): interpolate(v, contexts) for k, v in (step.get("with") or {}).items()}
        unknown = set(inputs) - accepted
        if unknown:
            raise UnsupportedWorkflow(
                f"{workflow}: {step['uses']}: inputs not supported by its stub: {sorted(unknown)}"
            )
        log: list[str] = []
        ctx = StepContext(self, event, run_id, self.workspace, log, str(contexts["github"]["token"]))
        try:
            outputs = handler(ctx, inputs)
        except StepFailed as failure:
            log.append(f"Error: {failure}")
            return "failure", 1, "\n".join(log), {}
        return "success", 0, "\n".join(log), dict(outputs)

    def _base_env(
        self,
        event: Event,
        run_id: int,
        document: Mapping[str, Any],
        job_id: str,
        files: Mapping[str, Path],
        event_path: Path,
        temp: Path,
        extra_path: list[str],
    ) -> dict[str, str]:
        """The environment of a step before the workflow's own ``env``: no variable of the test process leaks in."""
        home = self.work_root / "home"
        home.mkdir(parents=True, exist_ok=True)
        bin_dir = self._fake_bin()
        path = [*extra_path, str(bin_dir), str(self.python_bin), "/usr/local/bin", "/usr/bin", "/bin"]
        return {
            **self.machine_env,
            "PATH": os.pathsep.join(path),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(temp),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_REPOSITORY": self.github.repository,
            "GITHUB_SHA": event.sha,
            "GITHUB_REF": event.ref,
            "GITHUB_EVENT_NAME": event.name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_RUN_ID": str(run_id),
            "GITHUB_WORKFLOW": str(document.get("name", "")),
            "GITHUB_JOB": job_id,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "https://api.github.com",
            "GITHUB_ACTOR": "octocat",
            **{name: str(path) for name, path in files.items()},
        }

    def _fake_bin(self) -> Path:
        bin_dir = self.work_root / "fake-bin"
        gh = bin_dir / "gh"
        if not gh.exists():
            bin_dir.mkdir(parents=True, exist_ok=True)
            gh.write_text(
                f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_GH}" --state "{self.github.root}" "$@"\n', encoding="utf-8"
            )
            gh.chmod(0o755)
        return bin_dir

    @staticmethod
    def _bash(
        argv: list[str], script: str, env: Mapping[str, str], cwd: Path, temp: Path, index: int
    ) -> tuple[str, int, str]:
        script_file = temp / f"step-{index}.sh"
        script_file.write_text(script, encoding="utf-8")
        command = [str(script_file) if part == "{0}" else part for part in argv]
        completed = subprocess.run(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=STEP_TIMEOUT_SECONDS,
            check=False,
        )
        return ("success" if completed.returncode == 0 else "failure"), completed.returncode, completed.stdout


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _first_line(text: str) -> str:
    return f"Run {text.strip().splitlines()[0]}" if text.strip() else "Run"


def _truthy_text(value: Any) -> bool:
    return value is True or to_string(value).strip().lower() == "true"


def _read_key_values(path: Path) -> dict[str, str]:
    """``GITHUB_OUTPUT`` / ``GITHUB_ENV``: ``key=value`` lines and ``key<<DELIMITER`` blocks."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            else:
                raise UnsupportedWorkflow(f"{path.name}: {key}<<{delimiter} is never closed")
            values[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
        elif line.strip():
            raise UnsupportedWorkflow(f"{path.name}: a line that is neither key=value nor key<<EOF: {line!r}")
    return values
