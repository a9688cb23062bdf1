"""Reading scenario files: TOML -> validated :class:`Scenario`, with errors for people."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from peakdesk.scenario.schema import Scenario


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message names file, field and what is allowed."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: invalid scenario\n{lines}")


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario and the file it came from (to resolve relative paths)."""

    spec: Scenario
    path: Path

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
        out += f".{part}" if out else part
        node = node.get(part) if isinstance(node, dict) else None
    return out or "(top level)"


_UNION_LABELS = {"float", "int", "str", "bool", "list", "dict", "date", "datetime"}


def _describe(err: dict[str, Any], data: Any) -> str:
    where = _field_path(tuple(err["loc"]), data)
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    typ = err.get("type", "")
    if typ == "extra_forbidden":
        return f"{where}: unknown field (check the spelling; see `peakdesk schema`)"
    if typ == "missing":
        return f"{where}: required field is missing"
    if typ == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return f"{where}: unknown dist {ctx.get('tag')!r}; allowed: {ctx.get('expected_tags')}"
    bad = err.get("input")
    shown = json.dumps(bad, default=str) if not isinstance(bad, dict) else "{...}"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{where} = {shown}: {msg}"


def parse_scenario(data: dict[str, Any], path: Path | str = "<scenario>") -> Scenario:
    """Validate a parsed scenario mapping.

    Raises
    ------
    ScenarioError
        With one line per problem: field path, bad value, what is allowed.
    """
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = [dict(e) for e in exc.errors()]
        paths = [_field_path(tuple(e["loc"]), data) for e in errors]
        # A union field reports one error per member; where one of them points deeper
        # into the value (``share.after``), the shallow ones (``share``) are noise.
        keep = [
            e
            for e, p in zip(errors, paths, strict=True)
            if not any(q != p and (q.startswith(p + ".") or q.startswith(p + "[")) for q in paths)
        ]
        problems = list(dict.fromkeys(_describe(e, data) for e in keep))
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
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError(p, [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(p, ["the file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(p, [f"not valid TOML: {exc}"]) from None
    spec = parse_scenario(data, p)
    loaded = LoadedScenario(spec=spec, path=p.resolve())
    if spec.demand.forecast is not None and not loaded.resolve(spec.demand.forecast).is_file():
        raise ScenarioError(
            p,
            [
                f"demand.forecast = {spec.demand.forecast!r}: file not found (relative paths "
                "are read from the scenario file's folder)"
            ],
        )
    return loaded


def json_schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (for editor completion)."""
    schema = Scenario.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "peakdesk scenario"
    return schema
