"""Hypothesis strategies and the property every command must keep on user input.

The inputs are the ones a user hands the command line: scenario TOML files
(the shipped ones, mutated field by field), forecast CSVs, history CSVs, team
files and chat-log exports.  The property (:func:`check_outcome`): the command
succeeds, or exits 2 with ``error:`` and a message that names the file and the
field path or line; never a traceback, never an exit code it does not document.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from hypothesis import strategies as st
from pydantic import BaseModel

from peakdesk.cli import main
from peakdesk.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SCENARIO_FILES = sorted(SCENARIOS.glob("*.toml"))
TEAM_FILES = sorted((SCENARIOS / "teams").glob("*.toml"))

#: Top-level sections of a scenario: a field path in a message starts with one of them.
SECTIONS = tuple(Scenario.model_fields)
#: A field path as the messages write it: ``pools[1].speed: ...``, ``calendar.horizon = ...``
#: (followed by ``:`` or `` =``, so that "invalid scenario" does not count).
_FIELD_PATH = re.compile(
    r"(?<![\w.])(?:" + "|".join(SECTIONS) + r")(?:\[[\d*]+\]|\.[\w*-]+|\.\"[^\"]*\")*(?=:| =)"
)
_LINE = re.compile(r"(?:line \d+|:\d+:)")
#: An unknown key is named by its own path, whatever its name (``名字: unknown field``).
_UNKNOWN = re.compile(r"^  - .+: unknown field", re.MULTILINE)

Path_ = tuple[str | int, ...]

# ---------------------------------------------------------------------------
# TOML writing (the standard library reads TOML but does not write it)
# ---------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_str(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _toml_str(k)


def toml_value(v: Any) -> str:
    """One value in TOML's inline syntax."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        text = repr(v)
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(v, str):
        return _toml_str(v)
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML for {v!r}")


def toml_dumps(doc: dict[str, Any]) -> str:
    """A document as one ``key = inline value`` line per top-level key."""
    return "".join(f"{_toml_key(k)} = {toml_value(v)}\n" for k, v in doc.items())


# ---------------------------------------------------------------------------
# Walking and mutating a document
# ---------------------------------------------------------------------------


def all_paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path into a document (tables, arrays and leaves; not the root)."""
    out: list[Path_] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append((*prefix, k))
            out += all_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append((*prefix, i))
            out += all_paths(v, (*prefix, i))
    return out


def get_at(doc: Any, path: Path_) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def render_path(path: Path_) -> str:
    """A path as the loader writes it: ``pools[1].shifts[0].agents``."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


HUGE_NUMBERS: tuple[Any, ...] = (1e308, -1e308, 10**18, -(10**18), 2**63, 10**30, 1e12, 1e9)
EDGE_NUMBERS: tuple[Any, ...] = (
    0,
    0.0,
    -0.0,
    -1,
    -1.5,
    1,
    2,
    0.5,
    1e-9,
    1e-300,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
    *HUGE_NUMBERS,
)
UNICODE_TEXT: tuple[str, ...] = (
    "双十一客服",
    "สวัสดีครับ",
    "🎉🛒💬",
    "\u202eevil\u202c",
    "שלום עולם",
    "مرحبا",
    "a\x00b",
    "\x00",
    "",
    " ",
    "\t\n",
    "é",
    "Ⅻ",
    "x" * 3000,
    "../../etc/passwd",
    "C:\\con\\aux",
)
DURATION_TEXT: tuple[str, ...] = (
    "0s",
    "1ms",
    "0.001ms",
    "1e308s",
    "9" * 400 + "s",
    "99999999d",
    "1000000d",
    "367d",
    "-5min",
    "5",
    "5 min",
    "５min",
    "٣min",
    "min",
    "3minutes",
    "1h30",
    "nan s",
    "inf s",
    "3MIN",
    "",
)
CLOCK_TEXT: tuple[str, ...] = ("25:00", "24:00", "08:60", "8:00", "23:59:59", "-01:00", "noon")
DATES: tuple[Any, ...] = (
    dt.date(1, 1, 1),
    dt.date(9999, 12, 31),
    dt.date(1970, 1, 1),
    dt.date(2026, 11, 11),
    dt.datetime(1, 1, 1, 0, 0),
    dt.datetime(9999, 12, 31, 23, 59, 59),
    dt.datetime(2026, 11, 10, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
    dt.datetime(2026, 3, 29, 2, 30),
    dt.time(0, 0),
    dt.time(23, 59, 59, 999999),
)
DIST_NAMES = ("fixed", "exponential", "lognormal", "gamma", "uniform", "none", "geometric",
              "poisson", "empirical", "weibull", "")  # fmt: skip


def scalars() -> st.SearchStrategy[Any]:
    """Values of every TOML type, biased to the edges."""
    return st.one_of(
        st.sampled_from(EDGE_NUMBERS),
        st.sampled_from(UNICODE_TEXT),
        st.sampled_from(DURATION_TEXT),
        st.sampled_from(CLOCK_TEXT),
        st.sampled_from(DATES),
        st.sampled_from(DIST_NAMES),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
    )


def bad_values() -> st.SearchStrategy[Any]:
    """A replacement value: a scalar, or an empty or small container of them."""
    return st.one_of(
        scalars(),
        st.just([]),
        st.just({}),
        st.lists(scalars(), max_size=3),
        st.dictionaries(
            st.sampled_from(["dist", "mean", "value", "x", "名"]), scalars(), max_size=2
        ),
    )


# What the schema expects at a path (to draw values of the right kind, and to add
# the fields a file leaves out, where the defaults would otherwise never be fuzzed).


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation may hold (a union gives several)."""
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _models(arg)]
    return []


def _element(annotation: Any, step: str | int) -> Any:
    """The annotation of a list item or dict value."""
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if typing.get_origin(_unwrap(arg)) in (list, dict):
                return _element(arg, step)
        return None
    origin = typing.get_origin(annotation)
    if origin is list and isinstance(step, int):
        return typing.get_args(annotation)[0]
    if origin is dict and isinstance(step, str):
        return typing.get_args(annotation)[1]
    return None


def _pick_model(candidates: list[type[BaseModel]], table: Any) -> type[BaseModel] | None:
    """The member of a union a table is: by its ``dist`` tag, or the only one."""
    if len(candidates) == 1:
        return candidates[0]
    if isinstance(table, dict) and "dist" in table:
        for m in candidates:
            ann = m.model_fields.get("dist")
            if ann is not None and table["dist"] in typing.get_args(_unwrap(ann.annotation)):
                return m
    return None


def field_at(doc: Any, path: Path_, root: type[BaseModel] | None = None) -> Any:
    """The pydantic ``FieldInfo`` (or element annotation) the schema has at a path, or None."""
    from peakdesk.scenario.schema import Scenario

    annotation: Any = root or Scenario
    info: Any = None
    node = doc
    for step in path:
        model = _pick_model(_models(annotation), node)
        if model is not None and isinstance(step, str):
            info = model.model_fields.get(step)
            if info is None:
                return None
            annotation = info.annotation
        else:
            annotation = _element(annotation, step)
            info = annotation
            if annotation is None:
                return None
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            node = node[step]
        else:
            node = None
    return info


def missing_fields(doc: Any, path: Path_, root: type[BaseModel] | None = None) -> list[str]:
    """Fields the schema allows in the table at ``path`` that the document leaves out."""
    from peakdesk.scenario.schema import Scenario

    table = get_at(doc, path)
    if not isinstance(table, dict):
        return []
    if path:
        info = field_at(doc, path, root)
        annotation = getattr(info, "annotation", info)
    else:
        annotation = root or Scenario
    model = _pick_model(_models(annotation), table)
    if model is None:
        return []
    return [name for name in model.model_fields if name not in table]


def _kind(info: Any) -> str:
    """What a field holds: duration, clock, int, float, date, datetime, list, bool, str, other."""
    meta = getattr(info, "metadata", []) or []
    annotation = getattr(info, "annotation", info)
    for m in [*meta, *typing.get_args(annotation)[1:]]:
        func = getattr(m, "func", None)
        if func is not None and func.__name__ == "_to_seconds":
            return "duration"
        if func is not None and func.__name__ == "_clock_s":
            return "clock"
    base = _unwrap(annotation)
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(base) if a is not type(None)]
        if args:
            return _kind(args[0])
    if typing.get_origin(base) is list:
        return "list"
    for kind, t in (("bool", bool), ("int", int), ("float", float), ("datetime", dt.datetime),
                    ("date", dt.date), ("str", str)):  # fmt: skip
        if base is t:
            return kind
    return "other"


INTS: tuple[Any, ...] = (0, -1, 1, 2, 50, 51, 10**5, 10**6 + 1, 10**18, -(10**18), 2**63, 10**30)
DURATION_EDGES = ("0s", "1ms", "1s", "367d", "366d", "1000000d", "99999999d", "9" * 400 + "s")


PLAUSIBLE: dict[str, tuple[Any, ...]] = {
    "duration": ("0s", "1s", "30s", "90s", "5min", "45min", "2h", "1d"),
    "clock": ("00:00", "07:30", "12:00", "23:30"),
    "int": (0, 1, 2, 3, 5, 20),
    "float": (0.0, 0.1, 0.5, 1.0, 1.5, 2.0, 10.0),
    "date": (dt.date(2026, 11, 10), dt.date(2026, 11, 11), dt.date(2026, 11, 12)),
    "datetime": (dt.datetime(2026, 11, 10, 0, 0), dt.datetime(2026, 11, 11, 20, 0)),
    "list": ([],),
    "bool": (True, False),
    "str": ("x", "pre_sale", "after_sale", "team"),
}


def values_for(kind: str, info: Any = None) -> st.SearchStrategy[Any]:
    """Values aimed at a field's kind: usual ones, its edges, then anything.

    Usual values (another allowed choice, a moderate number, a short duration)
    keep the scenario runnable, so the commands after validation are reached
    too; the edges are huge, negative, zero, NaN/inf numbers, durations from
    ``1ms`` to ``99999999d``, dates in year 1 and 9999, Unicode.
    """
    options = _literal_options(info)
    if options:
        plausible: st.SearchStrategy[Any] = st.sampled_from(options)
        edges: st.SearchStrategy[Any] = st.sampled_from(
            UNICODE_TEXT + tuple(o.upper() for o in options if isinstance(o, str))
        )
    else:
        edge_pool: dict[str, tuple[Any, ...]] = {
            "duration": DURATION_EDGES + DURATION_TEXT,
            "clock": CLOCK_TEXT,
            "int": INTS,
            "float": EDGE_NUMBERS,
            "date": DATES,
            "datetime": DATES,
            "list": ([], [math.nan], [10**18], [dt.date(1, 1, 1)], ["双十一"]),
            "bool": (0, 1, "yes", "true"),
            "str": UNICODE_TEXT,
        }
        if kind not in edge_pool:
            return bad_values()
        plausible = st.sampled_from(PLAUSIBLE[kind])
        edges = st.sampled_from(edge_pool[kind])
    return st.one_of(plausible, plausible, edges, edges, bad_values())


def _literal_options(info: Any) -> tuple[Any, ...]:
    annotation = _unwrap(getattr(info, "annotation", info))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = _unwrap(args[0]) if args else None
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return ()


def template(doc: Any, path: Path_) -> str:
    """The schema field a path is an instance of: ``pools[*].shifts[*].agents``."""
    out = []
    node = doc
    for k, step in enumerate(path):
        parent_is_map = isinstance(node, dict) and k > 0 and path[k - 1] in ("skills", "rules")
        out.append("[*]" if isinstance(step, int) else ("*" if parent_is_map else str(step)))
        node = node.get(step) if isinstance(node, dict) else (
            node[step] if isinstance(node, list) and isinstance(step, int) and step < len(node)
            else None
        )  # fmt: skip
    return ".".join(out)


def _by_field(doc: Any, paths: Sequence[Path_]) -> st.SearchStrategy[Path_]:
    """A path, each schema field equally likely (not each of its many instances)."""
    groups: dict[str, list[Path_]] = {}
    for q in paths:
        groups.setdefault(template(doc, q), []).append(q)
    keys = sorted(groups)
    return st.sampled_from(keys).flatmap(lambda k: st.sampled_from(groups[k]))


@dataclass
class Mutation:
    """What was done to a document, for the failure message and the field-path check."""

    kind: str
    path: Path_
    value: Any = None

    def describe(self) -> str:
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{self.kind} {render_path(self.path)} {shown}"


@st.composite
def mutate_document(
    draw: st.DrawFn, doc: dict[str, Any], root: type[BaseModel] | None = None
) -> tuple[dict[str, Any], Mutation]:
    """One field-level mutation of a (deep-copied) document.

    Parameters
    ----------
    doc
        The document (a scenario; a team file with ``root`` set to its model).
    root
        The pydantic model of the whole document (default: a scenario).

    Mutations: a leaf set to a value aimed at its kind (huge, negative, zero,
    NaN/inf, extreme durations and dates, Unicode, wrong types); a field the
    file leaves out added with such a value; a table or array emptied or
    deleted; an unknown sibling key; an array-of-tables entry duplicated.
    """
    doc = copy.deepcopy(doc)
    paths = all_paths(doc)
    leaves = [q for q in paths if not isinstance(get_at(doc, q), (dict, list))]
    tables = [(), *(q for q in paths if isinstance(get_at(doc, q), dict))]
    op = draw(st.sampled_from(["leaf"] * 5 + ["add"] * 3 + ["structure"] * 2))
    if op == "add":
        options = [(*t, f) for t in tables for f in missing_fields(doc, t, root)]
        if options:
            path = draw(_by_field(doc, options))
            info = field_at(doc, path, root)
            value = draw(values_for(_kind(info), info))
            get_at(doc, path[:-1])[path[-1]] = value
            return doc, Mutation("add", path, value)
        op = "leaf"
    if op == "leaf" and leaves:
        path = draw(_by_field(doc, leaves))
        info = field_at(doc, path, root)
        kind = _kind(info)
        current = get_at(doc, path)
        if kind == "other" and isinstance(current, (int, float)) and not isinstance(current, bool):
            kind = "float"
        if kind == "other" and isinstance(current, str):
            kind = "str"
        value = draw(values_for(kind, info))
        get_at(doc, path[:-1])[path[-1]] = value
        return doc, Mutation(f"set {kind}", path, value)
    path = draw(st.sampled_from(paths))
    parent = get_at(doc, path[:-1])
    key = path[-1]
    current = parent[key]
    kinds = ["replace", "delete", "unknown_key"]
    if isinstance(current, (list, dict)):
        kinds += ["empty"]
    if isinstance(parent, list) and isinstance(current, dict):
        kinds += ["duplicate", "duplicate"]
    kind = draw(st.sampled_from(kinds))
    if kind == "replace":
        value = draw(bad_values())
        parent[key] = value
        return doc, Mutation(kind, path, value)
    if kind == "empty":
        value = [] if isinstance(current, list) else {}
        parent[key] = value
        return doc, Mutation(kind, path, value)
    if kind == "duplicate":
        assert isinstance(parent, list) and isinstance(key, int)
        parent.insert(key + 1, copy.deepcopy(current))
        return doc, Mutation(kind, path)
    if kind == "delete":
        del parent[key]
        return doc, Mutation(kind, path)
    # unknown_key: a sibling key next to the path (in its table, or in the value if a table)
    table, where = (current, path) if isinstance(current, dict) else (parent, path[:-1])
    if not isinstance(table, dict):
        parent[key] = draw(bad_values())
        return doc, Mutation("replace", path, parent[key])
    name = draw(st.sampled_from(["colour", "volume_per_dai", "speeed", "名字", "agents ", "x"]))
    table[name] = draw(scalars())
    return doc, Mutation(kind, (*where, name), table[name])


# ---------------------------------------------------------------------------
# Bytes on disk: encodings, byte-order marks, line ends
# ---------------------------------------------------------------------------

ENCODINGS = ("utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "gbk", "utf-16", "cp1252")
NEWLINES = ("\n", "\n", "\r\n", "\r")


def encode_text(text: str, encoding: str, newline: str) -> bytes:
    """Text as a file would hold it; characters the encoding lacks become ``?``."""
    body = text.replace("\n", newline) if newline != "\n" else text
    return body.encode(encoding, errors="replace")


# ---------------------------------------------------------------------------
# Running a command and checking the property
# ---------------------------------------------------------------------------


def invoke(args: Sequence[str]) -> Result:
    """Run the command line in-process, exceptions captured (they fail the property)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


class PropertyFailure(AssertionError):
    """The command broke the input property (one subclass per way, told apart)."""


class UnexpectedExit(PropertyFailure):
    """An exit code the command does not document for this input."""


class BadMessage(PropertyFailure):
    """Exit 2 without a message starting with ``error:``."""


class MessageNamesNoFile(PropertyFailure):
    """Exit 2 with a message that does not name the input file."""


class MessageSaysNotWhere(PropertyFailure):
    """Exit 2 with a message that names no field path or line."""


class PartialOutput(PropertyFailure):
    """A failed command left files in its output folder, or a successful one an incomplete run."""


class SilentDrop(PropertyFailure):
    """Input rows that are neither used nor reported."""


@dataclass
class Stats:
    """Cases tried and command outcomes per target (the long profile's runner reports them)."""

    tried: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)

    def case(self, target: str) -> None:
        """One more case of a target (shrinking steps included)."""
        self.tried[target] = self.tried.get(target, 0) + 1

    def record(self, target: str, outcome: str) -> None:
        """How one command of a case ended."""
        per = self.outcomes.setdefault(target, {})
        per[outcome] = per.get(outcome, 0) + 1


STATS = Stats()


def check_outcome(
    res: Result,
    *,
    files: Iterable[Path],
    what: str,
    target: str,
    allowed_codes: tuple[int, ...] = (0, 2),
    where: Callable[[str], bool] | None = None,
) -> None:
    """The property: success, or exit 2 with a message naming the file and where in it.

    Parameters
    ----------
    res
        The command's result.
    files
        The user files of this case: the message must name one of them.
    what
        The case, for the assertion message.
    target
        The fuzz target's name (for the counts).
    allowed_codes
        Exit codes the command documents for this input.
    where
        Whether the message says where in the file (a field path, a line);
        default: a scenario field path or a line number.
    """
    out = res.output
    exc = res.exception
    if exc is not None and not isinstance(exc, SystemExit):
        STATS.record(target, f"raised {type(exc).__name__}")
        # Raised again as it was, so hypothesis tells distinct failures apart by where
        # they were raised (each is shrunk and reported on its own).
        exc.add_note(f"fuzz case: {what}")
        raise exc
    assert "Traceback" not in out, f"{what}: traceback in the output\n{out}"
    code = res.exit_code
    if code not in allowed_codes:
        STATS.record(target, f"exit {code}")
        raise UnexpectedExit(f"{what}: exit code {code}\n{out}")
    STATS.record(target, f"exit {code}")
    if code != 2:
        return
    err = res.stderr
    if not err.startswith("error:"):
        raise BadMessage(f"{what}: exit 2 without 'error:'\n{err}")
    names = [str(p) for p in files] + [p.name for p in files]
    if not any(n in err for n in names):
        raise MessageNamesNoFile(f"{what}: the message names no input file\n{err}")
    check = where or says_where
    if not check(err):
        raise MessageSaysNotWhere(f"{what}: the message names no field path or line\n{err}")


def says_where(message: str) -> bool:
    """A scenario field path (``pools[1].speed``) or a line number in the message."""
    return bool(_FIELD_PATH.search(message) or _LINE.search(message) or _UNKNOWN.search(message))


def csv_says_where(message: str) -> bool:
    """A line number, or a whole-file problem (empty, header, columns, encoding)."""
    if _LINE.search(message):
        return True
    whole_file = ("empty", "header", "column", "UTF-8", "CSV", "no data rows", "data row",
                  "cannot read", "twice")  # fmt: skip
    return any(w in message for w in whole_file)


def new_files(directory: Path, before: set[Path]) -> set[Path]:
    """Files under ``directory`` not in ``before``."""
    if not directory.exists():
        return set()
    return {p for p in directory.rglob("*") if p.is_file()} - before


# ---------------------------------------------------------------------------
# Scenario files
# ---------------------------------------------------------------------------


def read_doc(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


SHIPPED_DOCS = {p.name: read_doc(p) for p in SCENARIO_FILES}
TEAM_DOCS = {p.name: read_doc(p) for p in TEAM_FILES}


def tiny_doc(**over: Any) -> dict[str, Any]:
    """A scenario small enough to simulate in a fraction of a second (~25 conversations)."""
    d: dict[str, Any] = {
        "scenario": {"name": "tiny", "platform": "generic"},
        "calendar": {
            "start": dt.datetime(2026, 11, 11, 9, 0),
            "horizon": "2h",
            "timezone": "Asia/Shanghai",
            "interval": "15min",
        },
        "demand": {"profile": "flat", "volume_per_day": 300, "daily_cv": 0.1},
        "inquiry_types": [
            {
                "name": "pre_sale",
                "share": 0.6,
                "priority": 1,
                "messages": {"dist": "geometric", "mean": 2.0, "max": 6},
                "think_time": {"dist": "lognormal", "mean": "40s", "cv": 1.0},
                "compose_time": {"dist": "lognormal", "mean": "20s", "cv": 0.6},
                "patience": {"dist": "exponential", "mean": "4min"},
                "bot_resolve": 0.1,
                "conversion": {"base": 0.4, "half_life": "6min"},
            },
            {
                "name": "after_sale",
                "share": 0.4,
                "messages": {"dist": "empirical", "values": [1, 2, 3], "weights": [1, 2, 1]},
                "think_time": {"dist": "uniform", "low": "10s", "high": "90s"},
                "compose_time": {"dist": "gamma", "mean": "30s", "cv": 0.5},
                "patience": {"dist": "none"},
                "wrap_up": "10s",
            },
        ],
        "pools": [
            {
                "name": "team",
                "skills": {"pre_sale": 1.0, "after_sale": 0.8},
                "max_concurrency": 3,
                "slowdown_per_extra_chat": 0.1,
                "hourly_cost": 30.0,
                "shifts": [
                    {
                        "name": "day",
                        "start": "08:00",
                        "length": "4h",
                        "agents": 2,
                        "breaks": [{"after": "2h", "length": "15min", "stagger": "30min"}],
                    }
                ],
            }
        ],
        "subaccounts": {"count": 4},
        "routing": {"idle_close": "5min", "auto_greeting": True},
        "simulation": {"seed": 1, "replications": 1},
        "targets": {"require": ["service_level(60s) >= 50%"]},
    }
    d.update(copy.deepcopy(over))
    return d


def write_scenario(
    directory: Path, name: str, doc: dict[str, Any], *, encoding: str = "utf-8", newline: str = "\n"
) -> Path:
    """Write a document as a scenario file (copying the shipped files it names beside it)."""
    path = directory / name
    path.write_bytes(encode_text(toml_dumps(doc), encoding, newline))
    for sibling in SCENARIOS.glob("*.csv"):
        target = directory / sibling.name
        if not target.exists():
            target.write_bytes(sibling.read_bytes())
    return path


# ---------------------------------------------------------------------------
# Profiles and budgets: cases per target in each profile
# ---------------------------------------------------------------------------

#: ``PEAKDESK_FUZZ=long`` selects the long profile; ``ci`` is the default.
PROFILE = os.environ.get("PEAKDESK_FUZZ", "ci")

#: Cases per target: (ci, long).  The ci counts keep the whole suite near a minute on
#: a 2-core machine; the long ones take about half an hour.
BUDGET: dict[str, tuple[int, int]] = {
    "scenario_fields": (500, 6000),
    "scenario_bytes": (80, 1500),
    "tiny_simulate": (150, 2500),
    "set_overrides": (100, 1500),
    "chat_log": (300, 5000),
    "chat_log_million": (1, 1),  # long profile only
    "forecast": (300, 4000),
    "history": (250, 3000),
    "team": (150, 2500),
}


def register_profiles() -> None:
    """Register the ``ci`` and ``long`` profiles and load the one selected."""
    from hypothesis import HealthCheck, settings

    common: dict[str, Any] = {
        "deadline": None,
        "database": None,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    }
    # ci: the same cases on every run (derandomized), nothing remembered between runs.
    settings.register_profile("ci", derandomize=True, print_blob=True, **common)
    settings.register_profile("long", derandomize=False, **common)
    if PROFILE not in ("ci", "long"):
        raise RuntimeError(f"PEAKDESK_FUZZ={PROFILE!r}: use 'ci' (the default) or 'long'")
    settings.load_profile(PROFILE)


def fuzz_settings(target: str) -> Any:
    """``@settings`` for a target: its number of cases in the selected profile."""
    from hypothesis import settings

    ci, long = BUDGET[target]
    return settings(max_examples=long if PROFILE == "long" else ci)


register_profiles()
