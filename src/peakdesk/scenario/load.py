"""Reading scenario files: TOML -> validated :class:`Scenario`, with errors for people."""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import difflib
import json
import re
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from peakdesk.scenario.centre_info import CentreInfo
from peakdesk.scenario.schema import CLOCK_EXAMPLES, MAX_AGENTS, FieldProblem, Scenario
from peakdesk.scenario.staffing_table import StaffingError, StaffingTable, read_staffing_table
from peakdesk.units import not_utf8


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message names file, field and what is allowed.

    Parameters
    ----------
    path
        The file.
    problems
        One line each: field path, what is wrong, what is allowed.
    what
        The headline after the file name.
    """

    def __init__(
        self, path: Path | str, problems: list[str], *, what: str = "invalid scenario"
    ) -> None:
        self.path = Path(path)
        self.problems = problems
        self.what = what
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: {what}\n{lines}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries when replications run in worker processes.
        return (_scenario_error, (self.path, self.problems, self.what))


def _scenario_error(path: Path, problems: list[str], what: str) -> ScenarioError:
    return ScenarioError(path, problems, what=what)


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and the file it came from (to resolve relative paths).

    ``centre`` is set for an outsourcing centre compiled into a scenario
    (:mod:`peakdesk.centre`): its clients and its demand.
    """

    spec: Scenario
    path: Path
    centre: CentreInfo | None = None

    def with_spec(self, spec: Scenario) -> LoadedScenario:
        """The same file (and centre) with another spec: a planner's or a sweep's variant."""
        return dataclasses.replace(self, spec=spec)

    def resolve(self, relative: str) -> Path:
        """Resolve a path given in the scenario relative to the scenario file."""
        p = Path(relative)
        return p if p.is_absolute() else (self.path.parent / p)


def _field_path(loc: tuple[int | str, ...], data: Any) -> str:
    """Render a pydantic location like ``pools[1].shifts[0].agents``.

    Pydantic puts labels in the location that are not keys of the file: the tag
    of a discriminated union (``'exponential'``) and the member of a plain union
    (``'float'``, ``'PhaseShare'``).  Those are dropped; the last part is kept
    when it names a key (a missing field is, by definition, not in the data).
    """
    out = ""
    node: Any = data
    for n, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            continue
        if isinstance(node, dict) and part not in node:
            last = n == len(loc) - 1
            if not last or part[:1].isupper() or part in _UNION_LABELS or node.get("dist") == part:
                continue
        elif not isinstance(node, dict) and (part[:1].isupper() or part in _UNION_LABELS):
            continue
        shown = part if _BARE.match(part) else json.dumps(part, ensure_ascii=False)
        out += f".{shown}" if out else shown
        node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


#: Keys written as they are in a path; others are quoted (``skills."agents "``).
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


_UNION_LABELS = {"float", "int", "str", "bool", "list", "dict", "date", "datetime"}


def _describe(err: dict[str, Any], data: Any, root: type[BaseModel] = Scenario) -> str:
    where = _field_path(tuple(err["loc"]), data)
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    typ = err.get("type", "")
    ctx = err.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, FieldProblem):
        # A cross-field check: name the field it found wrong, not the whole table.
        if where == "(top level)":
            where = cause.rel
        else:
            where += cause.rel if cause.rel.startswith("[") else f".{cause.rel}"
        return f"{where}: {cause}"
    if typ == "extra_forbidden":
        key = str(err["loc"][-1])
        hint = _did_you_mean(key, err["loc"][:-1], root)
        return f"{where}: unknown field{hint} (see `peakdesk schema` for the allowed fields)"
    if typ == "missing":
        return f"{where}: required field is missing"
    if typ == "union_tag_invalid":
        return f"{where}.dist = {ctx.get('tag')!r}: unknown; allowed: {ctx.get('expected_tags')}"
    bad = err.get("input")
    shown = (
        json.dumps(bad, default=str, ensure_ascii=False) if not isinstance(bad, dict) else "{...}"
    )
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{where} = {shown}: {msg}"


def _did_you_mean(key: str, parent_loc: tuple[Any, ...], root: type[BaseModel]) -> str:
    """Suggest the closest allowed field name for a typo."""
    model: Any = root
    for part in parent_loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            model = None
            break
        model = _model_of(field.annotation)
    if model is None or not hasattr(model, "model_fields"):
        return ""
    close = difflib.get_close_matches(key, list(model.model_fields), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside an annotation like ``list[Pool]`` or ``Pool | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = _model_of(arg)
        if m is not None:
            return m
    return None


def parse_scenario(data: dict[str, Any], path: Path | str = "<scenario>") -> Scenario:
    """Validate a parsed scenario mapping.

    Raises
    ------
    ScenarioError
        With one line per problem: field path, bad value, what is allowed.
    """
    out = parse_model(Scenario, data, path)
    assert isinstance(out, Scenario)
    return out


def parse_model(model: type[BaseModel], data: dict[str, Any], path: Path | str) -> BaseModel:
    """Validate a parsed file against ``model`` (a scenario, a centre) with errors for people.

    Raises
    ------
    ScenarioError
        With one line per problem: field path, bad value, what is allowed.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [dict(e) for e in exc.errors()]
        paths = [_field_path(tuple(e["loc"]), data) for e in errors]
        # A union field reports one error per member; where one of them points deeper
        # into the value (``share.after``), the shallow ones (``share``) are noise.
        keep = [
            e
            for e, p in zip(errors, paths, strict=True)
            if not any(q != p and (q.startswith(p + ".") or q.startswith(p + "[")) for q in paths)
        ]
        problems = list(dict.fromkeys(_describe(e, data, model) for e in keep))
        raise ScenarioError(path, problems) from None


def load_scenario(path: Path | str) -> LoadedScenario:
    """Read and validate a scenario TOML file.

    Parameters
    ----------
    path
        The scenario file.

    Raises
    ------
    ScenarioError
        If the file is missing, is not TOML, or does not fit the schema.
    """
    p = Path(path)
    return scenario_from_data(read_toml(p), p)


def read_toml(path: Path | str, *, allow_bom: bool = True) -> dict[str, Any]:
    """A TOML file's data, unvalidated, with every failure a :class:`ScenarioError`.

    Parameters
    ----------
    path
        The file.
    allow_bom
        Skip a UTF-8 byte-order mark (Windows editors write one; it is not part
        of the TOML). With ``False`` a mark is a TOML error at line 1.

    Raises
    ------
    ScenarioError
        If the file cannot be read, is not UTF-8 or is not TOML (with its line).
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(p, [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8-sig" if allow_bom else "utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(p, [not_utf8(p)]) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(p, [toml_problem(exc, text)]) from None


def toml_problem(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """A TOML syntax error for people, always with its line (a file cut short included)."""
    message = str(exc)
    if "(at line" in message:
        return f"not valid TOML: {message}{_bare_key_hint(exc, text)}"
    last = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    return f"not valid TOML: {message} (line {last} is the file's last: is it cut short?)"


def _bare_key_hint(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """A hint for a key in Chinese, Thai, ... written bare (TOML allows only A-Za-z0-9_- there)."""
    # Python 3.11's tomllib has no lineno/colno attributes: read them from the message.
    where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
    if "key" not in str(exc) or where is None:
        return ""
    lineno, colno = int(where[1]), int(where[2])
    lines = text.splitlines()
    if lineno > len(lines) or colno > len(lines[lineno - 1]):
        return ""
    char = lines[lineno - 1][colno - 1]
    if char.isascii():
        return ""
    return (
        f'; a key with {char!r} must be quoted in TOML, e.g. skills = {{ "{char}…" = 1.0 }}'
        " (bare keys are A-Za-z0-9_- only)"
    )


def scenario_from_data(data: dict[str, Any], path: Path | str) -> LoadedScenario:
    """Validate a scenario mapping read from (or edited after reading) ``path``.

    The same checks and error messages as :func:`load_scenario`, for data that
    was changed before validation (``--set`` overrides, parameter sweeps).

    Parameters
    ----------
    data
        The parsed TOML (tables as dicts).
    path
        The file it came from: named in errors, and relative paths in the
        scenario are resolved from its folder.

    Raises
    ------
    ScenarioError
        If the data does not fit the schema or names a file that does not exist.
    """
    p = Path(path)
    spec = parse_scenario(data, p)
    loaded = LoadedScenario(spec=spec, path=p.resolve())
    for field, name in (
        ("targets.history", spec.targets.history),
        ("demand.forecast", spec.demand.forecast),
        ("demand.day_volumes", spec.demand.day_volumes),
    ):
        if name is None:
            continue
        problem = _file_problem(loaded, name)
        if problem is not None:
            shown = name if len(name) <= 80 else name[:77] + "..."
            raise ScenarioError(
                p,
                [
                    f"{field} = {shown!r}: {problem} (relative paths are read from the "
                    "scenario file's folder)"
                ],
            )
    if any(pool.staffing is not None for pool in spec.pools):
        loaded = loaded.with_spec(_read_staffing(loaded, p))
    return loaded


def _read_staffing(loaded: LoadedScenario, shown: Path) -> Scenario:
    """The spec with each pool's staffing table read, checked against the sub-accounts.

    Raises
    ------
    ScenarioError
        Naming the pool's ``staffing`` field, the file and line, and what is allowed.
    """
    spec = loaded.spec
    pools = list(spec.pools)
    tables: list[tuple[int, StaffingTable]] = []
    for k, pool in enumerate(spec.pools):
        if pool.staffing is None:
            continue
        field = f"pools[{k}].staffing = {pool.staffing!r}"
        problem = _file_problem(loaded, pool.staffing)
        if problem is not None:
            raise ScenarioError(
                shown,
                [f"{field}: {problem} (relative paths are read from the scenario file's folder)"],
            )
        try:
            table = read_staffing_table(
                loaded.resolve(pool.staffing),
                pool.name,
                spec.calendar.start_aware,
                spec.calendar.horizon,
                max_agents=MAX_AGENTS,
            )
        except StaffingError as exc:
            raise ScenarioError(shown, [f"{field}: {exc}"]) from None
        pools[k] = pool.with_staffing_table(table)
        tables.append((k, table))
    _check_seats(spec, tables, shown)
    return spec.model_copy(update={"pools": pools})


def _check_seats(spec: Scenario, tables: list[tuple[int, StaffingTable]], shown: Path) -> None:
    """Agents online from tables never exceed the sub-accounts: each online agent holds one."""
    times = sorted({t for _, table in tables for t in table.edges_s[:-1]})
    seats = spec.subaccounts.count
    for t in times:
        online = 0
        where: list[str] = []
        for k, table in tables:
            i = bisect.bisect_right(table.edges_s, t) - 1
            if 0 <= i < len(table.agents):
                online += table.agents[i]
                if table.agents[i]:
                    where.append(
                        f"pools[{k}] {table.agents[i]} ({table.path.name}:{table.lines[i]})"
                    )
        if online > seats:
            start = spec.calendar.start_aware
            at = (start.astimezone(dt.UTC) + dt.timedelta(seconds=t)).astimezone(start.tzinfo)
            raise ScenarioError(
                shown,
                [
                    f"subaccounts.count = {seats}: the staffing tables put {online} agents "
                    f"online at {at.isoformat(timespec='minutes')} ({', '.join(where)}); an "
                    "online agent holds a sub-account, so a table may not exceed them: raise "
                    "subaccounts.count or lower the table"
                ],
            )


def _file_problem(loaded: LoadedScenario, name: str) -> str | None:
    """Why a file named in the scenario cannot be read (None: it is a file)."""
    if "\x00" in name:
        return "a file name cannot hold a NUL character"
    try:
        found = loaded.resolve(name).is_file()
    except OSError as exc:  # a name too long for the file system, say
        return f"not a usable file name: {exc.strerror or exc}"
    return None if found else "file not found"


def json_schema(
    model: type[BaseModel] = Scenario, title: str = "peakdesk scenario"
) -> dict[str, Any]:
    """The JSON Schema of scenario files (or of ``model``'s, a centre's) for editor completion."""
    schema = model.model_json_schema(mode="validation")
    # Durations are held as seconds, so their defaults come out as bare numbers, which
    # the duration pattern (and the loader) refuse: write them with a unit.
    for definition in schema.get("$defs", {}).values():
        for prop in definition.get("properties", {}).values():
            default = prop.get("default")
            if not isinstance(default, (int, float)) or "pattern" not in prop:
                continue
            if prop.get("examples") == CLOCK_EXAMPLES:
                prop["default"] = f"{int(default) // 3600:02d}:{int(default) % 3600 // 60:02d}"
            else:
                prop["default"] = f"{default:g}s"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = title
    return schema
