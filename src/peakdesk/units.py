"""Durations with units.

Every duration in a scenario file carries its unit, either in the field name
(``hourly_cost`` is money, ``interval`` is a duration string) or in the value
itself: ``"90s"``, ``"3min"``, ``"12h"``, ``"1d"``, ``"1h30min"``.  Internally
peakdesk uses float seconds everywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_UNIT_S: dict[str, float] = {
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}
_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*")

ALLOWED_UNITS = "ms, s, min, h, d (e.g. '90s', '3min', '1h30min', '12h')"


def parse_duration_s(text: str) -> float:
    """Parse a duration string with units into seconds.

    Parameters
    ----------
    text
        For example ``"90s"``, ``"3min"``, ``"1h30min"``, ``"2.5h"``.

    Returns
    -------
    float
        The duration in seconds (>= 0).

    Raises
    ------
    ValueError
        If the text is not a sequence of ``<number><unit>`` parts.
    """
    s = text.strip()
    if not s:
        raise ValueError(f"empty duration; give a number with a unit: {ALLOWED_UNITS}")
    pos = 0
    total = 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None or m.group(2) not in _UNIT_S:
            raise ValueError(f"cannot read duration {text!r}; use {ALLOWED_UNITS}")
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    return total


def format_clock(seconds: float) -> str:
    """Seconds after local midnight as ``"HH:MM"`` (``"HH:MM:SS"`` when not a whole minute).

    The form a scenario's ``start`` reads back exactly.
    """
    s = round(seconds)
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    return f"{h:02d}:{m:02d}" + (f":{sec:02d}" if sec else "")


def format_duration(seconds: float) -> str:
    """Format seconds compactly for people (``"45s"``, ``"3.5min"``, ``"2.1h"``)."""
    if seconds != seconds:  # NaN
        return "n/a"
    if seconds == float("inf"):
        return "inf"
    if abs(seconds) < 120:
        return f"{seconds:.1f}s"
    if abs(seconds) < 7200:
        return f"{seconds / 60:.1f}min"
    return f"{seconds / 3600:.1f}h"


def format_long_duration(seconds: float) -> str:
    """Like :func:`format_duration`, in days or years past two days (``41 days``)."""
    if not seconds >= 2 * 86400:  # NaN included
        return format_duration(seconds)
    if seconds < 2 * 365.25 * 86400:
        return f"{seconds / 86400:,.0f} days"
    return f"{seconds / (365.25 * 86400):,.3g} years"


def error_text(exc: BaseException) -> str:
    """An exception's message for people (a ``KeyError`` without its repr quotes)."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def zone_info(name: str) -> ZoneInfo:
    """The IANA timezone of that name.

    Raises
    ------
    ValueError
        For a name that is not a zone (also one the zone database cannot even
        look up: a folder such as ``"Asia"``, a name too long for a file name,
        a NUL byte).
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise ValueError(
            f"unknown IANA timezone {shown!r}; e.g. 'Asia/Shanghai', 'Asia/Manila'"
        ) from None


def not_utf8(path: Path) -> str:
    """Why a file that failed to decode is not UTF-8 text, with the line where it fails.

    For the messages of the file readers: ``"line 3 is not UTF-8 text (byte 0xe9);
    save the file as UTF-8"``, or that the file is UTF-16 (a spreadsheet's
    "Unicode text").
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return "line 1: the file is UTF-16 text (a UTF-16 byte-order mark); save it as UTF-8"
    if raw[:3] == b"\xef\xbb\xbf":
        raw = raw[3:]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start]
        return f"line {line} is not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8"
    return "the file is not UTF-8 text; save it as UTF-8"  # pragma: no cover - it decoded


def csv_records(
    path: Path, error: Callable[[Path, int | None, str], Exception]
) -> list[tuple[int, list[str]]]:
    """Every non-blank record of a UTF-8 CSV file, with the line it ends on.

    A byte-order mark (spreadsheet exports write one) is skipped.  A file that
    cannot be read, is not CSV or not UTF-8 raises ``error(path, line, why)``,
    the reader's own error type (a forecast's, a staffing table's).
    """
    rows: list[tuple[int, list[str]]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                for record in reader:
                    if any(cell.strip() for cell in record):
                        rows.append((reader.line_num, record))
            except csv.Error as exc:
                raise error(path, reader.line_num, f"malformed CSV: {exc}") from None
    except OSError as exc:
        raise error(path, None, f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        # Decoded in buffered chunks: the reader's line is not where it failed; the bytes say.
        raise error(path, None, not_utf8(path)) from None
    return rows


@dataclass(frozen=True)
class CsvTable:
    """A CSV file's header (names stripped) and its data records, each as wide as the header.

    Attributes
    ----------
    header_line
        The header's line in the file.
    header
        Column names.
    rows
        ``(line, record)`` of every non-blank data record.
    """

    header_line: int
    header: list[str]
    rows: list[tuple[int, list[str]]]

    def col(self, name: str) -> int:
        """The position of column ``name``."""
        return self.header.index(name)


def csv_table(
    path: Path,
    error: Callable[[Path, int | None, str], Exception],
    *,
    needs: tuple[str, ...],
    empty: str,
    missing: str,
) -> CsvTable:
    """A CSV file of named columns (:func:`csv_records`), checked as every reader needs it.

    Raises ``error`` for an empty file (``empty``), a header without one of the
    columns ``needs`` (``missing``, then the header as it is), and a record not
    as wide as the header (with its line).
    """
    records = csv_records(path, error)
    if not records:
        raise error(path, None, empty)
    header_line, raw = records[0]
    header = [name.strip() for name in raw]
    if any(name not in header for name in needs):
        raise error(path, header_line, f"{missing}; the header has {', '.join(header)}")
    for line, record in records[1:]:
        if len(record) != len(header):
            raise error(
                path,
                line,
                f"expected {len(header)} fields ({', '.join(header)}), got {len(record)}",
            )
    return CsvTable(header_line, header, records[1:])


def seconds_from(text: str, start: dt.datetime) -> float:
    """Seconds from the aware ``start`` to the ISO 8601 time ``text`` (local to its zone
    where ``text`` has no offset).

    Raises
    ------
    ValueError
        If ``text`` is not an ISO 8601 date-time.
    """
    stamp = dt.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=start.tzinfo)
    # In UTC: Python subtracts aware times sharing a tzinfo as wall times (an hour off
    # across a daylight-saving change).
    return (stamp.astimezone(dt.UTC) - start.astimezone(dt.UTC)).total_seconds()


class FileLineError(ValueError):
    """A file that cannot be used, at a line: ``path:line: message``.

    Parameters
    ----------
    path
        The file.
    line
        1-based line of the problem, or None when it concerns the whole file.
    message
        What is wrong and, where useful, what is allowed.
    """

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")

    def __reduce__(self) -> tuple[type[FileLineError], tuple[Path, int | None, str]]:
        # The default pickling would call the class with the formatted text and fail;
        # errors cross process boundaries when replications run in worker processes.
        return (type(self), (self.path, self.line, self.message))
