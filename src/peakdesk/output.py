"""Writing results: atomic files, the message log in the import format, tables as CSV.

Every file is written to a temporary name in the same folder and renamed into
place, so an interrupted run never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from peakdesk.engine.log import REPLY_BOT, REPLY_HUMAN, ChatLog


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600; give it the usual umask-derived mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def iso_times(seconds: npt.NDArray[np.float64], start: dt.datetime) -> npt.NDArray[np.str_]:
    """ISO 8601 local timestamps with offset, millisecond precision, vectorised.

    Parameters
    ----------
    seconds
        Seconds from ``start`` (finite).
    start
        Aware datetime of time 0; its zone gives the local time and offset.
    """
    if seconds.size == 0:
        return np.array([], dtype=str)
    zone = start.tzinfo
    assert zone is not None
    start_utc = start.astimezone(dt.UTC).replace(tzinfo=None)
    base = np.datetime64(start_utc, "ms")
    utc = base + np.rint(seconds * 1000.0).astype("timedelta64[ms]")
    # UTC offsets on a 15-minute grid of absolute time over the span (DST changes fall
    # on such a grid; anchored at the start, the grid could straddle them).
    t0 = start.timestamp()
    lo, hi = float(seconds.min()), float(seconds.max())
    grid = np.arange(np.floor((t0 + lo) / 900.0) * 900.0 - t0, hi + 900.0, 900.0)
    offs = np.array(
        [
            (start.astimezone(dt.UTC) + dt.timedelta(seconds=float(g)))
            .astimezone(zone)
            .utcoffset()
            .total_seconds()  # type: ignore[union-attr]
            for g in grid
        ]
    )
    if np.all(offs == offs[0]):
        off = np.full(seconds.size, offs[0])
    else:
        off = offs[np.clip(np.searchsorted(grid, seconds, side="right") - 1, 0, grid.size - 1)]
    local = utc + (off * 1000).astype("timedelta64[ms]")
    text = np.datetime_as_string(local, unit="ms")
    sign = np.where(off < 0, "-", "+")
    a = np.abs(off).astype(np.int64)
    suffix = np.char.add(
        sign,
        np.char.add(
            np.char.zfill((a // 3600).astype(str), 2),
            np.char.add(":", np.char.zfill((a % 3600 // 60).astype(str), 2)),
        ),
    )
    return np.char.add(text, suffix)


def message_log_rows(log: ChatLog, conv_prefix: str = "c") -> dict[str, npt.NDArray[np.str_]]:
    """The log as rows of the import format: ``conversation_id, sender, timestamp, agent_id,
    inquiry_type``.

    One row per buyer message sent, per reply (sender ``agent`` or ``bot``)
    and per auto greeting (sender ``auto``), ordered by time, a buyer message
    before a reply at the same instant.
    """
    w = log.workload
    conv = w.message_conversation
    sent = ~np.isnan(log.msg_time_s)
    replied = ~np.isnan(log.reply_time_s)
    auto = ~np.isnan(log.auto_reply_s)
    labels = log.agent_labels() if log.agent_pool.size else np.array([], dtype=str)
    n_b, n_r, n_a = int(sent.sum()), int(replied.sum()), int(auto.sum())
    t = np.concatenate((log.msg_time_s[sent], log.reply_time_s[replied], log.auto_reply_s[auto]))
    cid = np.concatenate((conv[sent], conv[replied], np.flatnonzero(auto)))
    # Ties: buyer (0) before auto greeting (1) before reply (2).
    rank = np.concatenate((np.zeros(n_b), np.full(n_r, 2), np.ones(n_a))).astype(np.int8)
    kind = log.reply_kind[replied]
    sender = np.concatenate(
        (
            np.full(n_b, "buyer"),
            np.where(kind == REPLY_HUMAN, "agent", np.where(kind == REPLY_BOT, "bot", "?")),
            np.full(n_a, "auto"),
        )
    )
    ra = log.reply_agent[replied]
    agent = np.concatenate(
        (
            np.full(n_b, ""),
            np.where(ra >= 0, labels[np.maximum(ra, 0)] if labels.size else "", ""),
            np.full(n_a, ""),
        )
    )
    order = np.lexsort((rank, cid, t))
    return {
        "conversation_id": np.char.add(conv_prefix, cid[order].astype(str)),
        "sender": sender[order],
        "timestamp": iso_times(t[order], log.start),
        "agent_id": agent[order],
        "inquiry_type": np.asarray(w.type_names)[w.type_idx][cid[order]],
    }


def write_csv(
    path: Path, columns: Mapping[str, npt.NDArray[Any]], float_fmt: str = "%.10g"
) -> None:
    """Write named columns as CSV, atomically (vectorised formatting, no per-row Python)."""
    names = list(columns)
    cols = []
    for k in names:
        v = np.asarray(columns[k])
        if v.dtype.kind == "f":
            s = np.char.mod(float_fmt, v)
            s = np.where(np.isnan(v), "", s)
        elif v.dtype.kind == "b":
            s = np.where(v, "1", "0")
        else:
            s = v.astype(str)
        cols.append(_quote(s))
    with atomic_write(path) as fh:
        fh.write(",".join(names) + "\n")
        if cols and cols[0].size:
            line = cols[0]
            for c in cols[1:]:
                line = np.char.add(np.char.add(line, ","), c)
            buf = io.StringIO()
            buf.write("\n".join(line.tolist()))
            buf.write("\n")
            fh.write(buf.getvalue())


def _quote(s: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """CSV-quote the values that need it (commas, quotes, newlines)."""
    if s.size == 0:
        return s
    needs = (np.char.find(s, ",") >= 0) | (np.char.find(s, '"') >= 0) | (np.char.find(s, "\n") >= 0)
    if not needs.any():
        return s
    out = s.astype(object)
    out[needs] = ['"' + v.replace('"', '""') + '"' for v in s[needs].tolist()]
    return out.astype(str)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (NaN and infinity become null)."""
    with atomic_write(path) as fh:
        json.dump(json_safe(data), fh, indent=2, ensure_ascii=False)
        fh.write("\n")


def json_safe(x: Any) -> Any:
    """A copy of ``x`` fit for strict JSON: non-finite floats become ``None``, dates ISO text."""
    if isinstance(x, (dt.date, dt.time)):
        return x.isoformat()
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, np.generic):
        return json_safe(x.item())
    return x
