"""``--set PATH=V1,V2,...``: change a scenario's values before validation, and sweeps of them.

A path walks the scenario file as written:

* through tables by key: ``demand.multiplier``, ``routing.idle_close``;
* through arrays of tables by the element's ``name`` or by index:
  ``pools.general.max_concurrency``, ``pools[1].max_concurrency``,
  ``pools.senior.shifts.evening.agents``, ``inquiry_types.0.bot_resolve``;
* to a key the file leaves out (the schema's default applies there) when the
  schema allows it: ``demand.daily_cv`` in a file without one.

``PATH+=V`` appends ``V`` to the array at ``PATH`` (a pool, a shift:
``pools.team.shifts+={start = "20:00", length = "4h", agents = 2}``) and
``PATH-=NAME`` removes the element named ``NAME`` (or at an index) from it
(``pools-=temps``, ``pools.team.shifts-=0``); several values make one variant
each, like any ``--set``.  A name ending in ``-`` is quoted in such a path.

Values are read as TOML values (``3``, ``0.8``, ``true``, ``"3min"``, ``[1, 2]``,
``2026-11-11``); text that is not a TOML value is kept as a string, so a bare
``3min`` or ``08:00`` needs no quotes.  Commas separate values except inside
brackets, braces and quotes.  Several settings make a full grid (every
combination), each labelled with its settings; every variant is then validated
like a scenario file, so a bad value is reported with its field path.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from peakdesk.scenario.load import (
    LoadedScenario,
    ScenarioError,
    read_toml,
    scenario_from_data,
)
from peakdesk.scenario.schema import Scenario


class SetSyntaxError(ValueError):
    """A ``--set`` option that cannot be read (no ``=``, an empty value, a bad path)."""


@dataclass(frozen=True)
class Setting:
    """One ``--set`` option: a path and the values it takes.

    Attributes
    ----------
    path
        The dotted path as written (``pools.general.max_concurrency``).
    steps
        The path split into keys (``str``) and indices (``int``, from ``[n]``).
    texts
        Each value as written (used in variant labels).
    values
        Each value as read (TOML value, or the text itself).
    op
        ``"set"`` (``PATH=V``), ``"append"`` (``PATH+=V``) or ``"remove"``
        (``PATH-=NAME``).
    """

    path: str
    steps: tuple[str | int, ...]
    texts: tuple[str, ...]
    values: tuple[Any, ...]
    op: str = "set"

    @property
    def sign(self) -> str:
        """How the option joins path and value: ``=``, ``+=`` or ``-=``."""
        return {"set": "=", "append": "+=", "remove": "-="}[self.op]


@dataclass(frozen=True)
class ArrayEdit:
    """A value that edits the array at its path instead of replacing it.

    Attributes
    ----------
    op
        ``"append"`` (add ``value`` at the end) or ``"remove"`` (take out the
        element ``value`` names: its ``name``, or an index).
    value
        The element to add, or the name or index of the one to remove.
    """

    op: str
    value: Any


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

_STEP = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|\[\s*(-?\d+)\s*\]|([^.\[\]"]+))\s*')


def parse_path(path: str) -> tuple[str | int, ...]:
    """Split a dotted path into steps.

    ``pools.general.max_concurrency`` -> ``("pools", "general", "max_concurrency")``;
    ``pools[1].shifts[0]`` -> ``("pools", 1, "shifts", 0)``; a quoted step
    (``rules."my.platform"``) may contain dots.

    Raises
    ------
    SetSyntaxError
        If the path is empty or malformed.
    """
    steps: list[str | int] = []
    pos = 0
    text = path.strip()
    if not text:
        raise SetSyntaxError("empty path")
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None or m.end() == pos:
            raise SetSyntaxError(f"cannot read the path {path!r} at {text[pos:]!r}")
        quoted, index, bare = m.groups()
        if index is not None:
            if not steps:
                raise SetSyntaxError(f"path {path!r} starts with an index")
            steps.append(int(index))
        elif quoted is not None:
            steps.append(quoted.replace('\\"', '"'))
        else:
            steps.append(bare.strip())
        pos = m.end()
        if pos < len(text):
            if text[pos] == ".":
                pos += 1
                if pos == len(text):
                    raise SetSyntaxError(f"path {path!r} ends with '.'")
            elif text[pos] != "[":
                raise SetSyntaxError(f"cannot read the path {path!r} at {text[pos:]!r}")
    return tuple(steps)


def parse_value(text: str) -> Any:
    """Read one value as TOML; text that is not a TOML value is kept as a string.

    ``"3"`` -> ``3``; ``"0.8"`` -> ``0.8``; ``"true"`` -> ``True``; ``'"3min"'`` and
    ``"3min"`` -> ``"3min"``; ``"[1,2]"`` -> ``[1, 2]``.
    """
    text = text.strip()
    try:
        doc = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    return doc["v"] if list(doc) == ["v"] else text


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` on the commas outside brackets, braces and quotes."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    k = 0
    while k < len(text):
        c = text[k]
        if quote:
            if c == "\\" and quote == '"':
                k += 1
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            parts.append(text[start:k])
            start = k + 1
        k += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def parse_set(option: str) -> Setting:
    """Read one ``PATH=V1,V2,...`` (or ``PATH=V``) option.

    Raises
    ------
    SetSyntaxError
        Without ``=``, with an empty path or value, or a malformed path.
    """
    path, eq, rest = option.partition("=")
    op = "set"
    if eq and path.endswith("+"):
        op, path = "append", path[:-1]
    elif eq and path.endswith("-"):
        op, path = "remove", path[:-1]
    if not eq:
        raise SetSyntaxError(
            f"--set {option!r}: expected PATH=VALUE or PATH=V1,V2,... "
            "(e.g. pools.general.max_concurrency=3,4,5)"
        )
    try:
        steps = parse_path(path)
    except SetSyntaxError as exc:
        raise SetSyntaxError(f"--set {option!r}: {exc}") from None
    texts = split_values(rest)
    if any(not t for t in texts):
        raise SetSyntaxError(
            f'--set {option!r}: empty value (quote an empty string as "", '
            "separate values with commas)"
        )
    return Setting(
        path=path.strip(),
        steps=steps,
        texts=tuple(texts),
        values=tuple(parse_value(t) for t in texts),
        op=op,
    )


# ---------------------------------------------------------------------------
# The schema at a path
# ---------------------------------------------------------------------------

# What the schema says is at a point of the path: ("model", (classes...)),
# ("list", item), ("dict", value), ("leaf", type) (a number, string, ...) or ("any", None).
_Node = tuple[str, Any]
_ANY: _Node = ("any", None)


def _node(annotation: Any) -> _Node:
    """The schema node of a field annotation (``list[Pool]``, ``Conversion | None``, ...)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _node(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ("model", (annotation,))
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, tuple, Sequence) and args:
        return ("list", args[0])
    if origin in (dict, Mapping) and len(args) == 2:
        return ("dict", args[1])
    if origin in (typing.Union, types.UnionType):
        nodes = [_node(a) for a in args if a is not type(None)]
        models = tuple(m for kind, ms in nodes if kind == "model" for m in ms)
        if models:
            return ("model", models)
        containers = [n for n in nodes if n[0] in ("list", "dict")]
        if len(containers) == 1:
            return containers[0]
        return ("leaf", annotation) if all(n[0] == "leaf" for n in nodes) else _ANY
    return _ANY if annotation is Any else ("leaf", annotation)


def _fields(node: _Node) -> list[str]:
    """Keys a table may hold at a model node (union members: any member's)."""
    out: dict[str, None] = {}
    for model in node[1]:
        for name, info in model.model_fields.items():
            out[name] = None
            if info.alias:
                out[info.alias] = None
    return list(out)


def _child(node: _Node, key: str) -> _Node:
    """The schema node under ``key`` of a table."""
    kind, arg = node
    if kind == "dict":
        return _node(arg)
    if kind == "model":
        for model in arg:
            for name, info in model.model_fields.items():
                if key in (name, info.alias):
                    return _node(info.annotation)
    return _ANY


# ---------------------------------------------------------------------------
# Applying
# ---------------------------------------------------------------------------


def _render(steps: Sequence[str | int]) -> str:
    out = ""
    for s in steps:
        if isinstance(s, int):
            out += f"[{s}]"
        else:
            shown = s if re.fullmatch(r"[A-Za-z0-9_-]+", s) else f'"{s}"'
            out += f".{shown}" if out else shown
    return out or "(top level)"


def _hint(key: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(options), n=1, cutoff=0.6)
    if not close:
        lowered = {o.lower(): o for o in options}
        close = [lowered[key.lower()]] if key.lower() in lowered else []
    return f"; did you mean {close[0]!r}?" if close else ""


def _list_step(
    items: list[Any], step: str | int, where: str, full: str, file: Path
) -> tuple[int, str | int]:
    """The element a step names in an array: its index, and the step to show in paths."""
    names = [it.get("name") if isinstance(it, dict) else None for it in items]
    if isinstance(step, str):
        hits = [k for k, n in enumerate(names) if n == step]
        if len(hits) == 1:
            return hits[0], step
        if len(hits) > 1:
            raise ScenarioError(
                file,
                [
                    f"--set {full}: {len(hits)} elements of {where} are named {step!r} "
                    f"(at {hits}); use an index, e.g. {where}[{hits[0]}]"
                ],
            )
    index = step if isinstance(step, int) else None
    if isinstance(step, str) and re.fullmatch(r"-?\d+", step):
        index = int(step)
    if index is not None:
        if 0 <= index < len(items):
            return index, index
        raise ScenarioError(
            file,
            [
                f"--set {full}: index {index} is out of range: {where} has {len(items)} "
                f"element{'s' * (len(items) != 1)} (0..{len(items) - 1})"
            ],
        )
    named = [n for n in names if isinstance(n, str) and n]
    exists = ", ".join(named) if named else "elements without names"
    msg = f"--set {full}: no element of {where} is named {step!r}{_hint(str(step), named)}"
    # A pool called by its kind (``inhouse``) is an easy slip: name the pools of that kind.
    by_value = [
        str(it["name"])
        for it in items
        if isinstance(it, dict) and "name" in it and step in list(it.values())
    ]
    if by_value:
        msg += (
            f" ({', '.join(by_value)} ha{'ve' if len(by_value) > 1 else 's'} {step!r} as a value)"
        )
    msg += f" ({where}: {exists}; or an index 0..{len(items) - 1})"
    raise ScenarioError(file, [msg])


def set_value(
    data: dict[str, Any],
    path: str | Sequence[str | int],
    value: Any,
    *,
    file: Path | str = "<scenario>",
) -> None:
    """Put ``value`` at ``path`` in raw scenario data (in place), before validation.

    Parameters
    ----------
    data
        The scenario as parsed from TOML (tables as dicts, arrays as lists).
    path
        A dotted path (see :func:`parse_path`) or its steps.
    value
        The value (a TOML value: number, string, bool, date, list, dict).
    file
        The scenario file, named in errors.

    Raises
    ------
    ScenarioError
        If a step names a key the schema does not allow there, an element that
        does not exist, or goes through a value that is not a table or array.
        The message names the file, the full path, what exists at that level
        and the closest name.
    SetSyntaxError
        If the path cannot be read.
    """
    file = Path(file)
    steps = parse_path(path) if isinstance(path, str) else tuple(path)
    if not steps:
        raise SetSyntaxError("empty path")
    full = path.strip() if isinstance(path, str) else _render(steps)
    node: Any = data
    schema: _Node = ("model", (Scenario,))
    done: list[str | int] = []
    for n, step in enumerate(steps):
        last = n == len(steps) - 1
        where = _render(done)
        if isinstance(node, list):
            k, shown = _list_step(node, step, where, full, file)
            done.append(shown)
            schema = _node(schema[1]) if schema[0] == "list" else _ANY
            if last:
                if isinstance(value, ArrayEdit):
                    raise ScenarioError(
                        file,
                        [
                            f"--set {full}: {_render(done)} is an element of {where}, not an "
                            f"array; {'append to' if value.op == 'append' else 'remove from'} "
                            f"the array itself: {where}{'+=' if value.op == 'append' else '-='}"
                            "..."
                        ],
                    )
                node[k] = value
                return
            node = node[k]
            continue
        if not isinstance(node, dict):
            raise ScenarioError(
                file,
                [
                    f"--set {full}: {where} is a value ({node!r}), not a table or an array, "
                    f"so it has no {step!r}"
                ],
            )
        key = str(step)
        child = _child(schema, key)
        if key not in node:
            allowed = _fields(schema) if schema[0] == "model" else None
            if allowed is not None and key not in allowed:
                present = [k for k in node if isinstance(k, str)]
                unset = [f for f in allowed if f not in node]
                table = where if done else "the top level"
                msg = (
                    f"--set {full}: {table} has no field {key!r}{_hint(key, allowed)} "
                    f"(in the file: {', '.join(present) or 'none'}"
                )
                msg += f"; also allowed: {', '.join(unset)})" if unset else ")"
                raise ScenarioError(file, [msg])
            if not last:
                if child[0] == "leaf":
                    raise ScenarioError(
                        file,
                        [
                            f"--set {full}: {_render([*done, key])} is a value, not a table, "
                            f"so it has no {steps[n + 1]!r}"
                        ],
                    )
                if child[0] == "list":
                    shown = _render([*done, key])
                    raise ScenarioError(
                        file,
                        [
                            f"--set {full}: {shown} is not in the file, so it has no "
                            f"elements to choose from; set the whole array: {shown}=[...]"
                        ],
                    )
                # A table the file leaves out (its defaults apply): start an empty one.
                node[key] = {}
        done.append(key)
        schema = child
        if last:
            if isinstance(value, ArrayEdit):
                if schema[0] not in ("list", "any"):
                    raise ScenarioError(
                        file,
                        [
                            f"--set {full}: {_render(done)} is not an array, so it cannot be "
                            f"{'appended to' if value.op == 'append' else 'removed from'}; "
                            f"set it with {_render(done)}=..."
                        ],
                    )
                _edit_array(node, key, value, full, _render(done), file)
            else:
                node[key] = value
            return
        node = node[key]


def _edit_array(
    node: dict[str, Any], key: str, edit: ArrayEdit, full: str, where: str, file: Path
) -> None:
    """Append to, or remove from, the array ``node[key]`` (``+=`` and ``-=``)."""
    target = node.get(key)
    if target is None and edit.op == "append":
        node[key] = [edit.value]  # an array the file leaves out: start it
        return
    if not isinstance(target, list):
        shown = "not in the file" if target is None else f"a value ({target!r})"
        then = ", so nothing to remove" if edit.op == "remove" else f"; set it with {where}=..."
        raise ScenarioError(file, [f"--set {full}: {where} is {shown}, not an array{then}"])
    if edit.op == "append":
        target.append(edit.value)
        return
    if not isinstance(edit.value, (str, int)) or isinstance(edit.value, bool):
        raise ScenarioError(
            file,
            [
                f"--set {full}: {where}-= takes the name or the index of the element to "
                f"remove, got {edit.value!r}"
            ],
        )
    k, _ = _list_step(target, edit.value, where, full, file)
    del target[k]


def _fresh(node: Any) -> Any:
    """A copy of nested tables and arrays that shares none of them (unlike ``deepcopy``)."""
    if isinstance(node, Mapping):
        return {k: _fresh(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_fresh(v) for v in node]
    return copy.deepcopy(node)


def apply_settings(
    data: Mapping[str, Any],
    settings: Sequence[tuple[str | Sequence[str | int], Any]],
    *,
    file: Path | str = "<scenario>",
) -> dict[str, Any]:
    """A deep copy of ``data`` with each ``(path, value)`` applied in turn.

    The copy shares nothing with ``data``, even where ``data`` holds one table
    in two places (a dict built in Python can): a change lands at one path only.
    """
    out: dict[str, Any] = _fresh(dict(data))
    for path, value in settings:
        set_value(out, path, value, file=file)
    return out


@dataclass(frozen=True)
class GridPoint:
    """One combination of a sweep.

    Attributes
    ----------
    label
        The settings, ``"pools.general.max_concurrency=4, demand.multiplier=1.2"``.
    settings
        ``(path steps, value)`` per setting, in the order given.
    """

    label: str
    settings: tuple[tuple[tuple[str | int, ...], Any], ...]


def grid(settings: Sequence[Setting | str]) -> list[GridPoint]:
    """Every combination of the settings' values (the first setting varies slowest).

    Raises
    ------
    SetSyntaxError
        If an option cannot be read, or two options set the same path.
    """
    parsed = [parse_set(s) if isinstance(s, str) else s for s in settings]
    seen: dict[tuple[Any, ...], str] = {}
    for s in parsed:
        if (s.op, *s.steps) in seen:
            raise SetSyntaxError(
                f"--set {s.path}{s.sign}... is given twice (also as {seen[(s.op, *s.steps)]}); "
                f"list every value in one option: PATH{s.sign}V1,V2,..."
            )
        seen[(s.op, *s.steps)] = s.path
    if not parsed:
        return [GridPoint(label="", settings=())]
    out = []
    for combo in itertools.product(*(range(len(s.values)) for s in parsed)):
        out.append(
            GridPoint(
                label=", ".join(
                    f"{s.path}{s.sign}{s.texts[k]}" for s, k in zip(parsed, combo, strict=True)
                ),
                settings=tuple(
                    (s.steps, _edit_or_value(s, copy.deepcopy(s.values[k])))
                    for s, k in zip(parsed, combo, strict=True)
                ),
            )
        )
    return out


def _edit_or_value(setting: Setting, value: Any) -> Any:
    return value if setting.op == "set" else ArrayEdit(setting.op, value)


def read_raw(path: Path | str) -> dict[str, Any]:
    """A scenario file's TOML data, unvalidated (read as the loader reads it).

    Raises
    ------
    ScenarioError
        If the file cannot be read or is not TOML.
    """
    return read_toml(path)


def _check_distinct(data: Mapping[str, Any], parsed: Sequence[Setting], file: Path) -> None:
    """Refuse two options that reach the same field by different spellings.

    ``pools.team.speed`` and ``pools[0].speed`` name one field when the first
    pool is ``team``: the grid would label variants by values the other option
    overwrote.
    """
    seen: dict[tuple[Any, ...], str] = {}
    for s in parsed:
        node: Any = data
        key: list[str | int] = []
        for depth, step in enumerate(s.steps):
            if isinstance(node, list):
                where = _render(s.steps[:depth])
                index, _ = _list_step(node, step, where, s.path, file)
                key.append(index)
                node = node[index]
            else:
                key.append(str(step))
                node = node.get(str(step)) if isinstance(node, Mapping) else None
        resolved = (s.op, *key)
        if resolved in seen:
            raise SetSyntaxError(
                f"--set {s.path} and --set {seen[resolved]} set the same field; "
                "list every value in one option: PATH=V1,V2,..."
            )
        seen[resolved] = s.path


def sweep(
    data: Mapping[str, Any],
    settings: Sequence[Setting | str],
    *,
    file: Path | str,
    base_label: str | None = None,
) -> list[tuple[str, LoadedScenario]]:
    """Validated variants of a scenario, one per combination of the settings.

    Parameters
    ----------
    data
        The scenario's raw TOML data (left unchanged).
    settings
        ``--set`` options (``"PATH=V1,V2"``) or parsed :class:`Setting` objects.
    file
        The scenario file: named in errors; relative paths resolve from its folder.
    base_label
        If given, the unchanged scenario comes first under this label.

    Returns
    -------
    list of (label, LoadedScenario)
        In grid order (the first setting varies slowest).

    Raises
    ------
    ScenarioError
        A path that does not exist, or a variant that does not validate: the
        message gives the field path and the variant's settings.
    SetSyntaxError
        An option that cannot be read, or a path given twice.
    """
    parsed = [parse_set(s) if isinstance(s, str) else s for s in settings]
    _check_distinct(data, parsed, Path(file))
    points = grid(parsed)
    out: list[tuple[str, LoadedScenario]] = []
    if base_label is not None:
        out.append((base_label, scenario_from_data(_fresh(dict(data)), file)))
    for point in points:
        if not point.settings and base_label is not None:
            continue
        variant = apply_settings(data, point.settings, file=file)
        try:
            loaded = scenario_from_data(variant, file)
        except ScenarioError as exc:
            raise ScenarioError(
                exc.path, [*exc.problems, f"variant: --set {point.label}"]
            ) from None
        out.append((point.label or base_label or Path(file).stem, loaded))
    return out
