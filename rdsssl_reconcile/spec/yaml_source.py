"""The only module that reads YAML: safe loading that remembers where every value came from.

Errors must name the file, the line and the key path, so the document is composed into nodes first
(which carry line marks) and then turned into plain Python values while a location table is filled
in. PyYAML silently keeps the last of two equal keys; here a duplicate key is an error, because a
reconciler that quietly ignores half of a reviewed change is worse than one that refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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


class _Converter:
    def __init__(self, document: YamlDocument) -> None:
        self.document = document
        self.loader = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, path: PathKey) -> Any:
        self.document.value_lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    self.document.problems.append(
                        (line, f"{format_path(path)}: keys must be strings, got {type(key).__name__} {key!r}")
                    )
                    continue
                if key in result:
                    first = self.document.key_lines.get((*path, key))
                    self.document.problems.append(
                        (line, f"{format_path((*path, key))}: duplicate key (first defined on line {first})")
                    )
                    continue
                self.document.key_lines[(*path, key)] = line
                result[key] = self.convert(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


def load_yaml_file(file: Path) -> YamlDocument:
    """Load one YAML file (a single document).

    Raises:
        OSError: the file cannot be read (the caller reports it with the path).
    """
    text = file.read_text(encoding="utf-8")
    return load_yaml_text(text, file)


def load_yaml_text(text: str, file: Path) -> YamlDocument:
    document = YamlDocument(file=file, data=None)
    try:
        nodes = list(_compose_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        document.problems.append((mark.line + 1 if mark else None, f"not valid YAML: {problem}"))
        return document
    if len(nodes) > 1:
        document.problems.append((nodes[1].start_mark.line + 1, "only one YAML document per file is supported"))
    if nodes:
        document.data = _Converter(document).convert(nodes[0], ())
    return document


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
