"""The only module that reads YAML: safe loading that remembers where every value came from.

Errors must name the file, the line and the key path, so the document is composed into nodes first
(which carry line marks) and then turned into plain Python values while a location table is filled
in. PyYAML silently keeps the last of two equal keys; here a duplicate key is an error, because a
reconciler that quietly ignores half of a reviewed change is worse than one that refuses it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rdsssl_reconcile.spec.keyscan import holds_private_key

PathKey = tuple[str | int, ...]


def format_path(path: PathKey) -> str:
    """``('instances', 0, 'ssl', 'endpoints', 1)`` -> ``instances[0].ssl.endpoints[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


@dataclass(slots=True)
class YamlDocument:
    """A loaded YAML file: its data and the line of every key and value in it."""

    file: Path
    data: Any
    key_lines: dict[PathKey, int] = field(default_factory=dict)
    value_lines: dict[PathKey, int] = field(default_factory=dict)
    problems: list[tuple[int | None, str]] = field(default_factory=list)

    def line_of(self, path: PathKey, *, prefer_key: bool = False) -> int | None:
        """Best line for ``path``: the key's or value's line, else the nearest enclosing one."""
        probe = path
        while True:
            first, second = (self.key_lines, self.value_lines) if prefer_key else (self.value_lines, self.key_lines)
            if probe in first:
                return first[probe]
            if probe in second:
                return second[probe]
            if not probe:
                return None
            probe = probe[:-1]


class _RefusedDocument(Exception):
    """Raised inside the converter when a document cannot be turned into values at all."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


#: Values produced from one file, counting every alias expansion: a bound, so that nested aliases
#: ("billion laughs") are refused instead of exhausting memory. Real fleets stay far below it.
MAX_VALUES_PER_FILE = 1_000_000


class _Converter:
    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.loader = yaml.SafeLoader("")
        self._open: set[int] = set()  # nodes being converted: one seen again is an alias to itself
        self._budget = MAX_VALUES_PER_FILE
        self._merged: dict[int, int] = {}  # mapping node id -> pairs that came from merge keys

    def close(self) -> None:
        """Let go of every node at once: PyYAML's loader refers to itself (its parser states are bound
        methods), so the nodes it remembers would otherwise wait for the cyclic collector, which a caller
        may have paused (40 MB of nodes and marks at 10,000 instances)."""
        self.loader.constructed_objects.clear()
        self.loader.recursive_objects.clear()
        self.loader.dispose()
        self._merged.clear()

    def convert(self, node: yaml.Node, path: PathKey) -> Any:
        self.document.value_lines.setdefault(path, node.start_mark.line + 1)
        self._budget -= 1
        if self._budget < 0:
            raise _RefusedDocument(
                node.start_mark.line + 1,
                f"{format_path(path)}: the document expands to more than {MAX_VALUES_PER_FILE:,} values "
                "(nested aliases?); expected a spec of ordinary size",
            )
        if isinstance(node, yaml.CollectionNode):
            if id(node) in self._open:
                raise _RefusedDocument(
                    node.start_mark.line + 1,
                    f"{format_path(path)}: an alias refers to a value that contains it; expected a finite document",
                )
            self._open.add(id(node))
            try:
                return self._convert_collection(node, path)
            finally:
                self._open.discard(id(node))
        try:
            return self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # a timestamp such as 2027-13-01 that YAML's resolver took for a date
            raise _RefusedDocument(
                node.start_mark.line + 1, f"{format_path(path)}: {exc}; expected a valid value (quote it for text)"
            ) from None

    def _convert_collection(self, node: yaml.CollectionNode, path: PathKey) -> Any:
        if not isinstance(node, yaml.MappingNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        merged = self._flatten(node)
        # Pick the pair that wins for each key first, then convert only those: a value overridden
        # through a merge key must leave no line marks behind.
        winners: dict[str, tuple[int, yaml.Node]] = {}
        own: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            key = self.loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                self.document.problems.append(
                    (line, f"{format_path(path)}: keys must be strings, got {type(key).__name__} {key!r}")
                )
                continue
            if "-----BEGIN" in key or len(key) > 200 or holds_private_key(key):
                # Never echoed, and never part of a key path that other messages would print.
                self.document.problems.append(
                    (line, f"{format_path(path)}: a key holds PEM text or is {len(key)} characters long (not shown)")
                )
                continue
            if index >= merged:
                # A key written in this mapping overrides one brought in by ``<<:``, as YAML's merge
                # key defines; written twice here, it is a duplicate.
                if key in own:
                    first = winners[key][0]
                    self.document.problems.append(
                        (line, f"{format_path((*path, key))}: duplicate key (first defined on line {first})")
                    )
                    continue
                own.add(key)
            winners[key] = (line, value_node)
        result: dict[str, Any] = {}
        for key, (line, value_node) in winners.items():
            self.document.key_lines[(*path, key)] = line
            result[key] = self.convert(value_node, (*path, key))
        return result

    def _flatten(self, node: yaml.MappingNode) -> int:
        """Resolve ``<<:`` merge keys in place; return how many leading pairs came from merges.

        PyYAML puts merged pairs first (later merged mappings before earlier ones, so that a plain
        last-wins walk gives YAML's precedence) and the mapping's own pairs after them. The count is
        remembered because an aliased mapping is flattened once but converted at every alias.
        """
        if id(node) not in self._merged:
            own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
            self.loader.flatten_mapping(node)
            self._merged[id(node)] = len(node.value) - own
        return self._merged[id(node)]


def load_yaml_file(file: Path) -> YamlDocument:
    """Load one YAML file (a single document).

    Only a regular file is read: a FIFO would block forever and ``/dev/zero`` would never end, so the
    file is opened without blocking and checked before a byte is read (this also closes the gap between
    discovery and reading, when the path could be swapped).

    Raises:
        OSError: the file cannot be read, or is not a regular file (the caller reports it with the path).
        UnicodeDecodeError: the file is not UTF-8 text.
    """
    return load_yaml_text(read_regular_text(file), file)


#: A spec or target file is kilobytes; one far bigger is the wrong file.
MAX_YAML_BYTES = 64 * 1024 * 1024


def read_regular_text(file: Path, *, limit: int = MAX_YAML_BYTES) -> str:
    """The UTF-8 text of ``file``, which must be a regular file of at most ``limit`` bytes."""
    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, a socket or a device?)", str(file))
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"{info.st_size:,} bytes, far more than a YAML spec", str(file))
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"more than {limit:,} bytes, far more than a YAML spec", str(file))
    return data.decode("utf-8")


def load_yaml_text(text: str, file: Path) -> YamlDocument:
    document = YamlDocument(file=file, data=None)
    try:
        nodes = list(_compose_all(text))
    except yaml.YAMLError as exc:
        document.problems.append(_yaml_problem(exc))
        return document
    if len(nodes) > 1:
        document.problems.append((nodes[1].start_mark.line + 1, "only one YAML document per file is supported"))
    if nodes:
        converter = _Converter(document)
        try:
            document.data = converter.convert(nodes[0], ())
        except _RefusedDocument as refused:
            document.data = None
            document.problems.append((refused.line, refused.message))
        except yaml.YAMLError as exc:  # e.g. an unhashable (collection) key
            document.data = None
            document.problems.append(_yaml_problem(exc))
        finally:
            converter.close()
    return document


def _yaml_problem(exc: yaml.YAMLError) -> tuple[int | None, str]:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return (mark.line + 1 if mark else None, f"not valid YAML: {problem}")


#: libyaml's composer when PyYAML was built with it (about 5x faster on large fleets), else pure Python.
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _compose_all(text: str) -> Iterator[yaml.Node]:
    loader = _COMPOSER(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                yield node
    finally:
        loader.dispose()


def yaml_scalar(value: str | bool | int) -> str:
    """``value`` as one YAML scalar that loads back as exactly ``value``: plain when that is safe, else quoted.

    For ``import``, which writes specs as text (to keep the layout and comments of a hand-written spec)
    and needs only its scalars quoted right: ``yes``, ``1.0``, ``#``, ``: ``, leading spaces, line breaks.
    Text with control or format characters (terminal escapes, bidi overrides) is written with YAML's
    ``\\x``/``\\u`` escapes, so ``cat`` of the file cannot act on a terminal; other text keeps its script.
    """
    printable = not isinstance(value, str) or value.isprintable()
    dumped = yaml.safe_dump(
        [value],
        default_flow_style=True,
        default_style=None if printable else '"',
        width=2**31 - 1,
        allow_unicode=printable,
    ).strip()
    if not (dumped.startswith("[") and dumped.endswith("]")) or "\n" in dumped:
        raise ValueError("yaml_scalar: PyYAML did not write one flow scalar")
    return dumped[1:-1]
