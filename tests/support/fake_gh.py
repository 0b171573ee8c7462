"""A fake ``gh`` (GitHub CLI) for the test runner: the commands the GitOps example uses, over ``github.json``.

Why a fake and not the real CLI: the real one talks to api.github.com. This one answers from the same
file the runner's stubs write (pull requests, workflow runs, issues, labels), with gh's own flags,
output shapes and ``--jq`` (piped through the real ``jq -r``, as gh applies jq to its JSON). It refuses
to run without ``GH_TOKEN``/``GITHUB_TOKEN``, as gh does in Actions. A command or flag it does not know is
written to ``unsupported.log`` and fails: the runner then fails the test instead of letting the example
depend on an unfaked call.

Run as ``python fake_gh.py --state DIR ARGS...`` (the runner writes a ``gh`` shim on PATH). Standard library
only, so it runs under any Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Args = list[str]


class Unsupported(Exception):
    pass


class GhError(Exception):
    pass


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--state":
        sys.stderr.write("usage: fake_gh.py --state DIR ARGS...\n")
        return 2
    root = Path(argv[1])
    args = argv[2:]
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if not token:
        sys.stderr.write(
            "gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable. Example:\n"
            "  env:\n    GH_TOKEN: ${{ github.token }}\n"
        )
        return 4
    state_file = root / "github.json"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    granted = state.get("tokens", {}).get(token)
    if granted is None:
        sys.stderr.write("HTTP 401: Bad credentials (https://api.github.com/graphql)\n")
        return 1
    try:
        scope, level = required_permission(args)
        if LEVELS.index(granted.get(scope, "none")) < LEVELS.index(level):
            raise GhError(f"HTTP 403: Resource not accessible by integration (the job's token needs {scope}: {level})")
        output = dispatch(state, args)
    except Unsupported as unsupported:
        with (root / "unsupported.log").open("a", encoding="utf-8") as log:
            log.write(f"gh {' '.join(args)}: {unsupported}\n")
        sys.stderr.write(f"fake gh: not supported: {unsupported}\n")
        return 1
    except GhError as error:
        sys.stderr.write(f"{error}\n")
        return 1
    tmp = state_file.with_suffix(".gh.tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    tmp.replace(state_file)
    sys.stdout.write(output)
    return 0


LEVELS = ("none", "read", "write")
#: What each command needs of the job's GITHUB_TOKEN (GitHub's REST permissions for the endpoints gh calls).
PERMISSIONS = {
    "issue list": ("issues", "read"),
    "issue create": ("issues", "write"),
    "issue edit": ("issues", "write"),
    "issue comment": ("issues", "write"),
    "issue close": ("issues", "write"),
    "label create": ("issues", "write"),
    "run list": ("actions", "read"),
}


def required_permission(args: Args) -> tuple[str, str]:
    if args[:1] == ["api"]:
        return ("pull-requests", "read")  # the one api path supported: commits/SHA/pulls
    return PERMISSIONS.get(" ".join(args[:2]), ("metadata", "read"))


def dispatch(state: dict[str, Any], args: Args) -> str:
    command = " ".join(args[:2])
    rest = args[2:]
    handlers: dict[str, Callable[[dict[str, Any], Args], str]] = {
        "issue list": issue_list,
        "issue create": issue_create,
        "issue edit": issue_edit,
        "issue comment": issue_comment,
        "issue close": issue_close,
        "run list": run_list,
        "label create": label_create,
    }
    if args[:1] == ["api"]:
        return api(state, args[1:])
    handler = handlers.get(command)
    if handler is None:
        raise Unsupported(f"command {command!r}")
    return handler(state, rest)


def parse(args: Args, flags: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """``flags`` maps each accepted flag to ``value`` or ``switch``; values may repeat (``--label``)."""
    values: dict[str, list[str]] = {}
    positional: list[str] = []
    items = iter(args)
    for item in items:
        if item.startswith("--"):
            name, eq, inline = item[2:].partition("=")
            kind = flags.get(name)
            if kind is None:
                raise Unsupported(f"flag --{name}")
            if kind == "switch":
                values.setdefault(name, []).append("true")
            else:
                value = inline if eq else next(items, None)
                if value is None:
                    raise GhError(f"flag needs an argument: --{name}")
                values.setdefault(name, []).append(value)
        elif item.startswith("-") and item != "-":
            raise Unsupported(f"short flag {item}")
        else:
            positional.append(item)
    return values, positional


def one(values: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    return values.get(name, [default])[-1]


def emit(data: Any, values: dict[str, list[str]]) -> str:
    fields = one(values, "json")
    if fields is not None and isinstance(data, list):
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        data = [{k: item.get(k) for k in wanted} for item in data]
    jq = one(values, "jq")
    if jq is None:
        return json.dumps(data, indent=2) + "\n"
    completed = subprocess.run(
        ["jq", "-r", jq], input=json.dumps(data), capture_output=True, text=True, check=False, timeout=30
    )
    if completed.returncode != 0:
        raise GhError(f"jq: {completed.stderr.strip()}")
    return completed.stdout


def body_of(values: dict[str, list[str]]) -> str | None:
    if "body-file" in values:
        name = one(values, "body-file") or ""
        return sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    return one(values, "body")


def api(state: dict[str, Any], args: Args) -> str:
    values, positional = parse(args, {"jq": "value", "method": "value"})
    if one(values, "method", "GET") != "GET" or len(positional) != 1:
        raise Unsupported(f"api {' '.join(args)}")
    parts = positional[0].strip("/").split("/")
    repo = "/".join(parts[1:3]) if len(parts) > 2 else ""
    if len(parts) == 6 and parts[0] == "repos" and parts[3] == "commits" and parts[5] == "pulls":
        if repo != state["repository"]:
            raise GhError(f"gh: Not Found (HTTP 404): {positional[0]}")
        sha = parts[4]
        pulls = [
            {
                "number": p["number"],
                "state": "closed" if p["merge_commit_sha"] else "open",
                "head": {"sha": p["head_sha"]},
                "base": {"ref": p["base"]},
                "merge_commit_sha": p["merge_commit_sha"],
            }
            for p in state["pulls"]
            if sha in (p["head_sha"], p["merge_commit_sha"])
        ]
        return emit(pulls, values)
    raise Unsupported(f"api path {positional[0]!r}")


def run_list(state: dict[str, Any], args: Args) -> str:
    flags = dict.fromkeys(("workflow", "event", "commit", "status", "branch", "limit", "json", "jq"), "value")
    values, _ = parse(args, flags)
    runs = list(reversed(state["runs"]))  # newest first, as gh lists them
    workflow = one(values, "workflow")
    if workflow is not None:
        runs = [r for r in runs if workflow in (r["workflowName"], Path(r["path"]).name)]
    for flag, key in (("event", "event"), ("commit", "headSha"), ("branch", "headBranch")):
        if one(values, flag) is not None:
            runs = [r for r in runs if r[key] == one(values, flag)]
    status = one(values, "status")
    if status is not None:
        runs = [r for r in runs if status in (r["status"], r["conclusion"])]
    return emit(runs[: int(one(values, "limit", "20") or 20)], values)


def _issue(state: dict[str, Any], number: str) -> dict[str, Any]:
    for issue in state["issues"]:
        if str(issue["number"]) == number.lstrip("#"):
            return issue  # type: ignore[no-any-return]
    raise GhError(f"GraphQL: Could not resolve to an issue or pull request with the number of {number}.")


def _issue_view(issue: dict[str, Any]) -> dict[str, Any]:
    return {**issue, "labels": [{"name": name} for name in issue["labels"]]}


def issue_list(state: dict[str, Any], args: Args) -> str:
    values, _ = parse(args, {"label": "value", "state": "value", "limit": "value", "json": "value", "jq": "value"})
    wanted_state = (one(values, "state", "open") or "open").upper()
    issues = [i for i in reversed(state["issues"]) if wanted_state == "ALL" or i["state"] == wanted_state]
    for label in values.get("label", []):
        issues = [i for i in issues if label in i["labels"]]
    issues = issues[: int(one(values, "limit", "30") or 30)]
    return emit([_issue_view(i) for i in issues], values)


def _require_labels(state: dict[str, Any], labels: list[str]) -> None:
    known = {label["name"] for label in state["labels"]}
    for label in labels:
        if label not in known:
            raise GhError(f"could not add label: '{label}' not found")


def issue_create(state: dict[str, Any], args: Args) -> str:
    values, _ = parse(args, {"title": "value", "label": "value", "body": "value", "body-file": "value"})
    title, body = one(values, "title"), body_of(values)
    if not title or body is None:
        raise GhError("must provide `--title` and `--body` (or `--body-file`) when not running interactively")
    labels = values.get("label", [])
    _require_labels(state, labels)
    number = 1 + max([i["number"] for i in state["issues"]], default=0)
    state["issues"].append(
        {"number": number, "title": title, "body": body, "labels": labels, "state": "OPEN", "comments": []}
    )
    return f"https://github.com/{state['repository']}/issues/{number}\n"


def issue_edit(state: dict[str, Any], args: Args) -> str:
    values, positional = parse(args, {"title": "value", "body": "value", "body-file": "value", "add-label": "value"})
    issue = _issue(state, positional[0] if positional else "")
    body = body_of(values)
    if body is not None:
        issue["body"] = body
    if one(values, "title"):
        issue["title"] = one(values, "title")
    _require_labels(state, values.get("add-label", []))
    issue["labels"] += [label for label in values.get("add-label", []) if label not in issue["labels"]]
    return f"https://github.com/{state['repository']}/issues/{issue['number']}\n"


def issue_comment(state: dict[str, Any], args: Args) -> str:
    values, positional = parse(args, {"body": "value", "body-file": "value"})
    issue = _issue(state, positional[0] if positional else "")
    body = body_of(values)
    if body is None:
        raise GhError("`--body` or `--body-file` required when not running interactively")
    issue["comments"].append(body)
    return f"https://github.com/{state['repository']}/issues/{issue['number']}#issuecomment-{len(issue['comments'])}\n"


def issue_close(state: dict[str, Any], args: Args) -> str:
    values, positional = parse(args, {"comment": "value", "reason": "value"})
    issue = _issue(state, positional[0] if positional else "")
    if one(values, "comment"):
        issue["comments"].append(one(values, "comment"))
    issue["state"] = "CLOSED"
    return ""


def label_create(state: dict[str, Any], args: Args) -> str:
    values, positional = parse(args, {"force": "switch", "color": "value", "description": "value"})
    if len(positional) != 1:
        raise GhError("accepts 1 arg(s)")
    existing = [label for label in state["labels"] if label["name"] == positional[0]]
    if existing and "force" not in values:
        raise GhError(
            f'label with name "{positional[0]}" already exists; use `--force` to update its color and description'
        )
    state["labels"] = [label for label in state["labels"] if label["name"] != positional[0]]
    state["labels"].append(
        {"name": positional[0], "color": one(values, "color"), "description": one(values, "description")}
    )
    return ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
