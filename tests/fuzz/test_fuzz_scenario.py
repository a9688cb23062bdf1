"""Fuzz: scenario files mutated field by field, their bytes, ``--set`` overrides, simulate --out.

Every case runs the real command line on files in a temporary folder and checks
the input property (:func:`strategies.check_outcome`): exit 0, or exit 2 with a
message naming the file and the field path or line; never a traceback.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fuzz.strategies import (
    ENCODINGS,
    NEWLINES,
    SHIPPED_DOCS,
    STATS,
    PartialOutput,
    Path_,
    _kind,
    all_paths,
    check_outcome,
    encode_text,
    field_at,
    fuzz_settings,
    get_at,
    invoke,
    mutate_document,
    new_files,
    render_path,
    tiny_doc,
    toml_dumps,
    toml_value,
    values_for,
    write_scenario,
)
from peakdesk.experiment.checks import estimate_size
from peakdesk.scenario import ScenarioError, load_scenario

#: Files every complete ``simulate --out`` run directory holds (one replication, its log).
RUN_FILES = {
    "summary.json",
    "intervals.csv",
    "scenario.toml",
    "pools.csv",
    "messages-r0.csv",
    "conversations-r0.csv",
}


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any], most: int = 3) -> tuple[dict[str, Any], str]:
    """One to ``most`` field mutations of a document, and what they were."""
    done = []
    for _ in range(draw(st.integers(1, most))):
        doc, m = draw(mutate_document(doc))
        done.append(m.describe())
    return doc, "; ".join(done)


@fuzz_settings("scenario_fields")
@given(name=st.sampled_from(sorted(SHIPPED_DOCS)), data=st.data())
def test_shipped_scenarios_mutated_field_by_field(name: str, data: st.DataObject) -> None:
    STATS.case("scenario_fields")
    doc, what = data.draw(mutated(SHIPPED_DOCS[name]), label="mutations")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_scenario(Path(tmp), name, doc)
        res = invoke(["validate", str(path)])
        check_outcome(res, files=[path], what=f"{name}: {what}", target="scenario_fields")


@fuzz_settings("scenario_bytes")
@given(
    name=st.sampled_from(sorted(SHIPPED_DOCS)),
    encoding=st.sampled_from(ENCODINGS),
    newline=st.sampled_from(NEWLINES),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0)),
    junk=st.sampled_from([b"", b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", "名".encode("gbk")]),
    unicode_name=st.sampled_from(["", "双十一客服", "สวัสดีครับ", "🎉", "\u202eabc"]),
)
def test_scenario_bytes(
    name: str, encoding: str, newline: str, cut: float | None, junk: bytes, unicode_name: str
) -> None:
    """Encodings, byte-order marks, line ends, a file cut short, stray bytes."""
    STATS.case("scenario_bytes")
    doc = dict(SHIPPED_DOCS[name])
    if unicode_name:
        doc["scenario"] = {**doc["scenario"], "name": unicode_name, "description": unicode_name}
    raw = encode_text(toml_dumps(doc), encoding, newline)
    if cut is not None:
        raw = raw[: int(len(raw) * cut)]
    raw = junk + raw if len(junk) != 1 else raw[: len(raw) // 2] + junk + raw[len(raw) // 2 :]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_scenario(Path(tmp), name, {})
        path.write_bytes(raw)
        res = invoke(["validate", str(path)])
        what = f"{name}: {encoding} {newline!r} cut {cut} junk {junk!r}"
        check_outcome(res, files=[path], what=what, target="scenario_bytes")


def _small_enough(path: Path) -> bool:
    """Whether a valid scenario simulates in well under a second."""
    try:
        size = estimate_size(load_scenario(path))
    except ScenarioError:
        return False
    return size.conversations <= 3000 and size.messages <= 15000 and size.interval_rows <= 5000


@fuzz_settings("tiny_simulate")
@given(data=st.data())
def test_tiny_scenario_mutated_then_simulated(data: st.DataObject) -> None:
    """``simulate --out DIR``: a complete run directory, or no new file at all."""
    STATS.case("tiny_simulate")
    doc, what = data.draw(mutated(tiny_doc(), most=2), label="mutations")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_scenario(Path(tmp), "tiny.toml", doc)
        res = invoke(["validate", str(path)])
        check_outcome(res, files=[path], what=f"validate: {what}", target="tiny_simulate")
        if res.exit_code != 0 or not _small_enough(path):
            return
        out = Path(tmp) / "run"
        res = invoke(["simulate", str(path), "-r", "1", "-w", "1", "--out", str(out)])
        check_outcome(res, files=[path], what=f"simulate: {what}", target="tiny_simulate")
        written = {p.name for p in new_files(out, set())}
        if res.exit_code == 0:
            missing = RUN_FILES - written
            if missing:
                raise PartialOutput(f"{what}: the run directory lacks {sorted(missing)}")
            json.loads((out / "summary.json").read_text(encoding="utf-8"))
        elif written:
            raise PartialOutput(f"{what}: exit {res.exit_code} but wrote {sorted(written)}")


def _set_paths(doc: dict[str, Any], path: Path_) -> list[str]:
    """A path as ``--set`` takes it: by index, and arrays of tables by element name."""
    named = []
    node: Any = doc
    for step in path:
        child = node[step]
        if isinstance(step, int) and isinstance(child, dict) and "name" in child:
            named.append(str(child["name"]))
        else:
            named.append(str(step))
        node = child
    return [render_path(path), ".".join(named)]


@fuzz_settings("set_overrides")
@given(data=st.data())
def test_set_overrides(data: st.DataObject) -> None:
    """``compare --set PATH=V1,V2``: bad paths and values stop before any run."""
    STATS.case("set_overrides")
    doc = tiny_doc()
    leaves = [q for q in all_paths(doc) if not isinstance(get_at(doc, q), (dict, list))]
    path = data.draw(st.sampled_from(leaves), label="field")
    info = field_at(doc, path)
    path_text = data.draw(
        st.one_of(
            st.sampled_from(_set_paths(doc, path)),
            st.sampled_from(["pools.nobody.speed", "demand..total", "pools[9].speed", "", "[0]"]),
            st.text(max_size=10),
        ),
        label="path",
    )
    values = data.draw(st.lists(values_for(_kind(info), info), min_size=1, max_size=2))
    texts = [toml_value(v) if not isinstance(v, str) else v for v in values]
    option = f"{path_text}={','.join(texts)}"
    with tempfile.TemporaryDirectory() as tmp:
        path = write_scenario(Path(tmp), "tiny.toml", doc)
        res = invoke(["compare", str(path), "--with-base", "--set", option, "-r", "1", "-w", "1"])

        def names_set_or_field(message: str) -> bool:
            from fuzz.strategies import says_where

            return "--set" in message or says_where(message)

        check_outcome(
            res,
            files=[path, Path("--set")],
            what=f"--set {option!r}",
            target="set_overrides",
            where=names_set_or_field,
        )
