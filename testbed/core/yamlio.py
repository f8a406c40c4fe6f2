"""The one YAML loader for every user file (topology, experiment, suite).

PyYAML's ``safe_load`` has four traps for hand-written configs, each closed here:

* duplicate mapping keys silently overwrite (a datacenter defined twice: the last
  wins) -- here they are an error naming both lines;
* YAML 1.1 reads ``1e-3`` as the *string* ``'1e-3'`` (its floats need a dot), so
  ``[0.001, 1e-3]`` were two different cells -- here ``1e-3`` is the float 0.001;
* aliases are expanded lazily, so a few lines (the "billion laughs") can stand for
  a billion nodes that blow up whatever walks them -- here the expanded size is
  bounded before anything is constructed;
* a file that is not UTF-8 (or not text) raised a decoding traceback.

Every failure is a :class:`~testbed.core.errors.ConfigError`: one line, file, place, fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from testbed.core.errors import ConfigError

MAX_FILE_BYTES = 16 * 2**20
"""A config bigger than this is certainly not hand-written config."""
MAX_EXPANDED_NODES = 1_000_000
"""Nodes after alias expansion: a 10,000-worker topology is ~30,000."""

_FLOAT_WITHOUT_DOT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")


class StrictLoader(yaml.SafeLoader):
    """SafeLoader + duplicate-key rejection + ``1e-3`` floats + bounded aliases."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # ``<<: *base`` then overriding a key is the point of merging
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # unhashable: the base constructor reports it
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first defined on line {first})", key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def compose_document(self) -> Node | None:
        node = super().compose_document()
        if node is not None and _expanded_size(node, {}, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"aliases expand to more than {MAX_EXPANDED_NODES:,} nodes", node.start_mark)
        return node


StrictLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
StrictLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_WITHOUT_DOT, list("-+0123456789"))


def _expanded_size(node: Node, memo: dict[int, int], limit: int) -> int:
    """Nodes in the tree with every alias expanded (shared subtrees counted each time), capped."""
    known = memo.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        size += _expanded_size(child, memo, limit)
        if size > limit:
            break
    memo[id(node)] = size
    return size


_FIXES = {
    "duplicate": "keep one definition of the key",
    "aliases": "do not build values out of nested aliases",
    "could": "plain YAML only: remove the !!tag",
}


def loads_yaml(text: str, source: str | Path) -> Any:
    """Parse YAML text with :class:`StrictLoader`; a YAML problem is a one-line ConfigError."""
    try:
        return yaml.load(text, Loader=StrictLoader)  # StrictLoader is a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "document"
        problem = " ".join(str(getattr(err, "problem", None) or err).split())
        fix = _FIXES.get(problem.split(" ")[0], "fix the YAML syntax")
        raise ConfigError(source, where, f"invalid YAML ({problem})", fix) from None
    except RecursionError:
        raise ConfigError(source, "document", "nested too deeply", "flatten the YAML") from None


def read_yaml_file(path: str | Path, what: str = "YAML") -> Any:
    """Read a UTF-8 YAML file; missing, unreadable, huge, non-UTF-8 or bad YAML: one ConfigError line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, "file", "no such file" if not path.exists() else "not a regular file",
                          "check the path (topologies live in topologies/, experiments in experiments/)")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(path, "file", f"{size:,} bytes is too big for a {what} file",
                              f"keep it under {MAX_FILE_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except PermissionError:
        raise ConfigError(path, "file", "permission denied", "make it readable (chmod a+r)") from None
    except OSError as err:
        raise ConfigError(path, "file", f"cannot read it ({err.strerror or err})", "check the path") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(path, f"byte {err.start}", "not UTF-8 text",
                          "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)") from None
    if "\x00" in text:
        raise ConfigError(path, "file", "contains NUL bytes, so it is not a text file", "give a YAML file")
    return loads_yaml(text, path)
