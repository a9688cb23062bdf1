"""Reading a chat log exported from a seller back-office (the import format).

Columns: ``conversation_id, sender, timestamp[, agent_id][, ordered][, leave_message]
[, inquiry_type]``; ``sender`` is ``buyer``, ``agent``, ``bot`` or ``auto`` (a
greeting that answers nothing); ``timestamp`` is ISO 8601 with a UTC offset
(``2026-11-11T00:00:05+08:00``).  ``inquiry_type`` names the conversation's
type (pre-sale, after-sale, ...): one per conversation, on any of its rows; the
rules ignore it, ``peakdesk calibrate`` fits each type.  A bad row (unknown
sender, a time that cannot be read or has no offset, a reply before any buyer
message of its conversation, a second inquiry type for a conversation) stops
the import with its line number, unless ``skip_bad_rows`` is set: then it is
left out, counted and reported, never silently dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from peakdesk.rules.messages import AGENT, AUTO, BOT, BUYER, MessageLog
from peakdesk.units import not_utf8, zone_info

REQUIRED = ("conversation_id", "sender", "timestamp")
OPTIONAL = ("agent_id", "ordered", "leave_message", "inquiry_type")
_SENDERS = {"buyer": BUYER, "agent": AGENT, "bot": BOT, "auto": AUTO}
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"", "0", "false", "no", "n", "f"}
#: How many bad rows an error message lists before summarising the rest.
SHOW_BAD_ROWS = 20
#: Times a log may hold, POSIX seconds: [2000-01-01, 2100-01-01) UTC.  A year 1 or 9999 is
#: a typo, and the local-day series of the rules would span millennia.
FIRST_TIME_S = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()
END_TIME_S = dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()


@dataclass(frozen=True)
class BadRow:
    """A row that cannot be used: its line number (1 = header) and why."""

    line: int
    reason: str


class ChatLogError(ValueError):
    """A log that cannot be read; lists the bad rows with their line numbers."""

    #: What to do about bad rows (empty: nothing to offer).
    hint = "use --skip-bad-rows to leave them out and count them"

    def __init__(self, path: Path, problems: list[BadRow], *, header: str | None = None) -> None:
        self.path = path
        self.problems = problems
        lines = [f"{path}: {header}"] if header else [f"{path}: {len(problems)} bad rows"]
        lines += [f"  line {p.line}: {p.reason}" for p in problems[:SHOW_BAD_ROWS]]
        if len(problems) > SHOW_BAD_ROWS:
            lines.append(f"  ... and {len(problems) - SHOW_BAD_ROWS} more")
        if problems and self.hint:
            lines.append(f"  ({self.hint})")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ImportedLog:
    """A log read from CSV, with what was left out.

    Attributes
    ----------
    log
        The usable messages.
    rows
        Data rows read.
    skipped
        Rows left out (only with ``skip_bad_rows``), with line numbers and reasons.
    agent_ids
        The export's agent ids, indexed by the log's agent codes.
    """

    log: MessageLog
    rows: int
    skipped: list[BadRow] = field(default_factory=list)
    agent_ids: tuple[str, ...] = ()

    def skipped_by_reason(self) -> dict[str, int]:
        """How many rows were left out for each kind of reason."""
        return dict(Counter(b.reason.split(":")[0] for b in self.skipped))


@dataclass(frozen=True)
class ExportColumns:
    """How a back-office export's own columns map onto the import format.

    Read from a small TOML file by :func:`peakdesk.scenario.export_columns.read_export_columns`.

    Attributes
    ----------
    columns
        Import-format name -> the export's header (a name left out keeps its own).
        Export columns not named here are ignored.
    senders
        The export's sender values (compared without case or surrounding space)
        -> ``buyer``, ``agent``, ``bot`` or ``auto``; empty keeps the standard names.
    time_format
        ``iso`` (ISO 8601), ``epoch_s``, ``epoch_ms`` or a ``strptime`` pattern
        (``%d/%m/%Y %H:%M:%S`` for day-first dates).
    timezone
        IANA zone of times written without a UTC offset, or ``None``.
    source
        The file the mapping came from (named in errors).
    """

    columns: dict[str, str] = field(default_factory=dict)
    senders: dict[str, str] = field(default_factory=dict)
    time_format: str = "iso"
    timezone: str | None = None
    source: str = ""

    def rename(self) -> dict[str, str]:
        """The export's header -> the import-format name, for every column used."""
        return {export: own for own, export in self.columns.items()}


def _parse_time(text: str, time_format: str = "iso", zone: dt.tzinfo | None = None) -> float | str:
    """POSIX seconds, or the reason the text is not a usable timestamp.

    Parameters
    ----------
    text
        The cell.
    time_format
        ``iso``, ``epoch_s``, ``epoch_ms`` or a ``strptime`` pattern.
    zone
        The zone of times with no UTC offset (``None``: such a time is an error).
    """
    s = text.strip()
    if not s:
        return "empty timestamp"
    if time_format in {"epoch_s", "epoch_ms"}:
        try:
            posix = float(s) / (1000.0 if time_format == "epoch_ms" else 1.0)
        except ValueError:
            return f"unreadable timestamp {s!r} (expected {time_format}: a number)"
        if not FIRST_TIME_S <= posix < END_TIME_S:
            return f"timestamp {s!r} is out of range for {time_format}; times must lie in 2000-2099"
        return posix
    try:
        if time_format == "iso":
            t = dt.datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
        else:
            t = dt.datetime.strptime(s, time_format)
    except ValueError:
        want = (
            "ISO 8601, e.g. 2026-11-11T00:00:05+08:00"
            if time_format == "iso"
            else f"the format {time_format!r}"
        )
        return f"unreadable timestamp {s!r} (use {want})"
    if t.tzinfo is None or t.utcoffset() is None:
        if zone is None:
            return f"timestamp {s!r} has no UTC offset (e.g. +08:00); the zone is ambiguous"
        t = t.replace(tzinfo=zone)
    posix = t.timestamp()
    if not FIRST_TIME_S <= posix < END_TIME_S:
        return f"timestamp {s!r} is out of range; times must lie in 2000-2099"
    return posix


def _flag(text: str) -> bool | None:
    v = text.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


def read_table(
    p: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    error: type[ChatLogError],
    rename: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, int], list[list[str]]]:
    """A CSV export's header, column positions and rows, its columns checked.

    With ``rename`` (the export's header -> import name) the export's columns are
    read under their import names and every other column is ignored.

    Raises ``error`` (a :class:`ChatLogError`) for an unreadable or empty file, a
    file that is not UTF-8 CSV, or a missing, unknown or repeated column.
    """
    try:
        fh = p.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise error(p, [], header=f"cannot read the file: {exc.strerror or exc}") from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise error(p, [], header="the file is empty") from None
        except UnicodeDecodeError:
            raise error(p, [], header=not_utf8(p)) from None
        except csv.Error as exc:
            raise error(p, [], header=f"line 1: not a CSV text file: {exc}") from None
        mapped_missing: list[str] = []
        if rename is not None:
            own = {v: k for k, v in rename.items()}
            # Every column the map names must be there (a typo would drop it silently).
            mapped_missing = [v for k, v in rename.items() if k not in header]
            # The export's columns under their import names; the rest left aside.
            header = [
                rename.get(h, h if h not in own and h in required + optional else "")
                for h in header
            ]
        missing = [c for c in required if c not in header]
        missing += [c for c in mapped_missing if c not in missing]
        unknown = [c for c in header if c and c not in required + optional]
        twice = sorted({c for c in header if c and header.count(c) > 1})
        if missing or unknown or twice:
            parts = []
            if missing and rename is not None:
                named = [repr(own.get(c, c)) + f" ({c})" for c in missing]
                parts.append(f"missing column(s) {', '.join(named)} of the column map")
            elif missing:
                parts.append(f"missing column(s) {missing}")
            if unknown:
                parts.append(f"unknown column(s) {unknown}")
            if twice:
                parts.append(f"column(s) {twice} given twice")
            raise error(p, [], header="; ".join(parts) + f"; allowed: {list(required + optional)}")
        col = {name: header.index(name) for name in header if name}
        try:
            rows = list(reader)
        except UnicodeDecodeError:
            raise error(p, [], header=not_utf8(p)) from None
        except csv.Error as exc:
            raise error(p, [], header=f"line {reader.line_num}: not CSV: {exc}") from None
    return header, col, rows


def read_chat_log(
    path: Path | str, *, skip_bad_rows: bool = False, columns: ExportColumns | None = None
) -> ImportedLog:
    """Read a chat log CSV.

    Parameters
    ----------
    path
        The CSV file (UTF-8, a BOM is fine).
    skip_bad_rows
        Leave bad rows out (and report them) instead of stopping.
    columns
        How the export's own columns, sender values and times map onto the
        import format (``None``: the file is in the import format).

    Raises
    ------
    ChatLogError
        A missing column, an unreadable file, or bad rows without ``skip_bad_rows``.
    """
    p = Path(path)
    cmap = columns or ExportColumns()
    header, col, rows = read_table(
        p, REQUIRED, OPTIONAL, ChatLogError, None if columns is None else cmap.rename()
    )
    senders_in = (
        {k.strip().lower(): _SENDERS[v] for k, v in cmap.senders.items()}
        if cmap.senders
        else _SENDERS
    )
    allowed_senders = ", ".join(sorted(cmap.senders) if cmap.senders else _SENDERS)
    zone = zone_info(cmap.timezone) if cmap.timezone else None

    bad: list[BadRow] = []
    conv_ids: list[str] = []
    senders: list[int] = []
    times: list[float] = []
    agents: list[str] = []
    lines: list[int] = []
    ordered_rows: list[tuple[str, bool]] = []
    leave: list[bool] = []
    ic, isd, it = col["conversation_id"], col["sender"], col["timestamp"]
    ia, io, il = col.get("agent_id"), col.get("ordered"), col.get("leave_message")
    # A conversation's inquiry type: one per conversation (rows may leave it empty).
    itype = col.get("inquiry_type")
    type_of: dict[str, str] = {}
    width = len(header)
    n_rows = 0
    for n, row in enumerate(rows, start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        n_rows += 1
        if len(row) != width:
            bad.append(BadRow(n, f"wrong number of fields: {len(row)} for {width} columns"))
            continue
        cid = row[ic].strip()
        if not cid:
            bad.append(BadRow(n, "empty conversation_id"))
            continue
        sender = senders_in.get(row[isd].strip().lower())
        if sender is None:
            bad.append(BadRow(n, f"unknown sender {row[isd]!r}; allowed: {allowed_senders}"))
            continue
        t = _parse_time(row[it], cmap.time_format, zone)
        if isinstance(t, str):
            bad.append(BadRow(n, t))
            continue
        flag_o = False
        if io is not None:
            f = _flag(row[io])
            if f is None:
                bad.append(BadRow(n, f"ordered must be 0/1 or true/false, got {row[io]!r}"))
                continue
            flag_o = f
        flag_l = False
        if il is not None:
            f = _flag(row[il])
            if f is None:
                bad.append(BadRow(n, f"leave_message must be 0/1 or true/false, got {row[il]!r}"))
                continue
            flag_l = f
        if itype is not None and (ty := row[itype].strip()):
            had = type_of.setdefault(cid, ty)
            if had != ty:
                bad.append(
                    BadRow(n, f"inquiry_type {ty!r} differs from {had!r} earlier in {cid!r}")
                )
                continue
        conv_ids.append(cid)
        senders.append(sender)
        times.append(t)
        agents.append(row[ia].strip() if ia is not None else "")
        lines.append(n)
        leave.append(flag_l)
        if io is not None:
            ordered_rows.append((cid, flag_o))

    # A reply before any buyer message of its conversation cannot be judged.
    # (Codes by first appearance through a dict: np.unique on strings sorts, which is
    # the slowest step of a million-row import.)
    first_seen: dict[str, int] = {}
    codes = np.fromiter(
        (first_seen.setdefault(c, len(first_seen)) for c in conv_ids), np.int64, len(conv_ids)
    )
    # Number conversations in label order, so the codes do not depend on row order.
    names = list(first_seen)
    by_name = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), dtype=np.int64)
    rank[by_name] = np.arange(len(names))
    codes = rank[codes] if codes.size else codes
    labels = np.asarray([names[k] for k in by_name], dtype=object)
    t_arr = np.asarray(times, dtype=np.float64)
    s_arr = np.asarray(senders, dtype=np.int8)
    first_buyer = np.full(labels.size, np.inf)
    is_b = s_arr == BUYER
    np.minimum.at(first_buyer, codes[is_b], t_arr[is_b])
    early = ~is_b & (t_arr < first_buyer[codes])
    for k in np.flatnonzero(early).tolist():
        why = (
            "no buyer message"
            if np.isinf(first_buyer[codes[k]])
            else "before its first buyer message"
        )
        bad.append(BadRow(lines[k], f"a reply in conversation {conv_ids[k]!r} {why}"))
    if bad and not skip_bad_rows:
        raise ChatLogError(p, sorted(bad, key=lambda b: b.line))
    keep = ~early
    # Re-code conversations densely over the rows kept.
    kept_labels, kept_codes = np.unique(codes[keep], return_inverse=True)
    agent_seen: dict[str, int] = {"": -1}
    agent_code = np.fromiter(
        (agent_seen.setdefault(a, len(agent_seen) - 1) for a in agents), np.int64, len(agents)
    )[keep]
    ordered = None
    if io is not None:
        per_label = {cid: False for cid in labels[kept_labels].tolist()}
        for cid, f in ordered_rows:
            if f and cid in per_label:
                per_label[cid] = True
        ordered = np.array([per_label[c] for c in labels[kept_labels].tolist()], dtype=np.bool_)
    log = MessageLog.from_arrays(
        conversation=kept_codes,
        sender=s_arr[keep],
        time_s=t_arr[keep],
        agent=agent_code,
        leave_message=np.asarray(leave, dtype=np.bool_)[keep],
        conversation_labels=tuple(str(x) for x in labels[kept_labels].tolist()),
        ordered=ordered,
        conversation_types=None
        if itype is None
        else tuple(type_of.get(str(c), "") for c in labels[kept_labels].tolist()),
    )
    return ImportedLog(
        log=log,
        rows=n_rows,
        skipped=sorted(bad, key=lambda b: b.line),
        agent_ids=tuple(a for a in agent_seen if a != ""),
    )


#: Columns of an agent sessions export (log-ins and log-outs, or "online" status spans).
SESSION_COLUMNS = ("agent_id", "login", "logout")


@dataclass(frozen=True)
class Session:
    """One agent's stretch logged in: its id and POSIX seconds from and to."""

    agent_id: str
    login_s: float
    logout_s: float


class SessionsError(ChatLogError):
    """A sessions export that cannot be read (every row is needed: no skipping)."""

    hint = "fix them: a sessions export is read whole"


def read_sessions_csv(path: Path | str) -> list[Session]:
    """Read an agent sessions export: ``agent_id, login, logout`` (ISO 8601 with offset).

    Other columns (a status, a device) are ignored.  An empty ``logout`` is a
    session still open when the export was taken (``inf``: the caller ends it).

    Raises
    ------
    SessionsError
        An unreadable file, a missing column, or bad rows (an empty id, a time
        that cannot be read, a log-out before its log-in), with line numbers.
    """
    p = Path(path)
    header, col, rows = read_table(
        p, SESSION_COLUMNS, (), SessionsError, {c: c for c in SESSION_COLUMNS}
    )
    out: list[Session] = []
    bad: list[BadRow] = []
    width = len(header)
    for n, row in enumerate(rows, start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            bad.append(BadRow(n, f"wrong number of fields: {len(row)} for {width} columns"))
            continue
        agent = row[col["agent_id"]].strip()
        t0 = _parse_time(row[col["login"]])
        t1 = _parse_time(row[col["logout"]]) if row[col["logout"]].strip() else math.inf
        if not agent:
            bad.append(BadRow(n, "empty agent_id"))
        elif isinstance(t0, str) or isinstance(t1, str):
            bad.append(BadRow(n, t0 if isinstance(t0, str) else str(t1)))
        elif t1 < t0:
            bad.append(BadRow(n, "logout before login"))
        else:
            out.append(Session(agent, t0, t1))
    if bad:
        raise SessionsError(p, bad)
    return out
