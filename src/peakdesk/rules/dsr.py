"""Taobao / Tmall DSR (店铺动态评分, the store's detailed seller ratings), from a ratings export.

The rule [official, ../docs PLATFORM_RULES.md]: each of the three dimensions is
the mean of the store's ratings of the last 6 months, and per natural month only
the first 3 ratings between the same buyer and the store count.

The dimensions: ``description`` (宝贝与描述相符, item as described), ``service``
(卖家的服务态度, the seller's service) and ``logistics`` (物流服务的质量, delivery),
each a whole score 1-5.

What the rule text leaves open, stated here and a :class:`DsrRule` option each:

* 6 months is ``window_days = 180`` days ending with the day shown [model];
* the natural month and the day are the store's clock, ``timezone``
  (Asia/Shanghai) [model];
* "first 3" is by rating time, ties in file order; a buyer is ``buyer_id`` and the
  file is one store [model];
* a default rating (默认评价: the system's rating when the buyer does not rate in
  time) is not the buyer's and is left out of DSR (``count_default = False``), and
  takes none of the buyer's 3 places [3p: seller guides describe default ratings as
  not counted; a parameter];

The import format: ``buyer_id, timestamp, description, service, logistics`` and
optionally ``order_id`` and ``default`` (0/1, true/false).  A bad row stops the
import with its line number, or with ``skip_bad_rows`` is left out and counted.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from peakdesk.rules.csvlog import BadRow, ChatLogError, _flag, _parse_time, read_table
from peakdesk.rules.series import DailyHistory, MetricSeries, daily_series
from peakdesk.units import zone_info

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

#: The three dimensions, as columns and metric suffixes.
DIMENSIONS = ("description", "service", "logistics")
LABELS = {
    "description": "DSR item as described (宝贝与描述相符), mean score 1-5",
    "service": "DSR seller's service (卖家的服务态度), mean score 1-5",
    "logistics": "DSR delivery (物流服务的质量), mean score 1-5",
}
REQUIRED = ("buyer_id", "timestamp", *DIMENSIONS)
OPTIONAL = ("order_id", "default")


class RatingsError(ChatLogError):
    """A ratings file that cannot be read; lists the bad rows with their line numbers."""


@dataclass(frozen=True)
class DsrRule:
    """Options of the DSR rule (module docstring).

    Attributes
    ----------
    timezone
        The store's clock, for the natural month and the day.
    window_days
        Days in the rolling window ("the last 6 months").
    per_buyer_month
        Ratings of one buyer counted per natural month.
    count_default
        Whether default (system) ratings count.
    threshold
        A score to keep (``>=``), or None.
    """

    timezone: str = "Asia/Shanghai"
    window_days: int = 180
    per_buyer_month: int = 3
    count_default: bool = False
    threshold: float | None = None


@dataclass(frozen=True)
class Ratings:
    """Ratings in file order.

    Attributes
    ----------
    buyer
        Buyer of each rating.
    time_s
        When it was given, POSIX seconds.
    scores
        Shape (n, 3): description, service, logistics.
    default
        Whether it is a default (system) rating.
    line
        Its line in the file (1 = header).
    """

    buyer: tuple[str, ...]
    time_s: F64
    scores: F64
    default: B
    line: tuple[int, ...] = ()


@dataclass(frozen=True)
class ImportedRatings:
    """A ratings file read, with what was left out (``skip_bad_rows``)."""

    ratings: Ratings
    rows: int
    skipped: list[BadRow] = field(default_factory=list)

    def skipped_by_reason(self) -> dict[str, int]:
        """How many rows were left out for each kind of reason."""
        return dict(Counter(b.reason.split(":")[0] for b in self.skipped))


def read_ratings_csv(path: Path | str, *, skip_bad_rows: bool = False) -> ImportedRatings:
    """Read a ratings export (module docstring).

    Raises
    ------
    RatingsError
        A missing column, an unreadable file, or bad rows without ``skip_bad_rows``.
    """
    p = Path(path)
    header, col, rows = read_table(p, REQUIRED, OPTIONAL, RatingsError)
    width = len(header)
    bad: list[BadRow] = []
    buyers: list[str] = []
    times: list[float] = []
    scores: list[tuple[float, float, float]] = []
    defaults: list[bool] = []
    lines: list[int] = []
    n_rows = 0
    for n, row in enumerate(rows, start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        n_rows += 1
        if len(row) != width:
            bad.append(BadRow(n, f"wrong number of fields: {len(row)} for {width} columns"))
            continue
        buyer = row[col["buyer_id"]].strip()
        if not buyer:
            bad.append(BadRow(n, "empty buyer_id"))
            continue
        t = _parse_time(row[col["timestamp"]])
        if isinstance(t, str):
            bad.append(BadRow(n, t))
            continue
        got: list[float] = []
        for dim in DIMENSIONS:
            text = row[col[dim]].strip()
            if text not in {"1", "2", "3", "4", "5"}:
                bad.append(BadRow(n, f"{dim} must be a whole score 1-5, got {text!r}"))
                break
            got.append(float(text))
        if len(got) != len(DIMENSIONS):
            continue
        flag = False
        if "default" in col:
            f = _flag(row[col["default"]])
            if f is None:
                bad.append(
                    BadRow(n, f"default must be 0/1 or true/false, got {row[col['default']]!r}")
                )
                continue
            flag = f
        buyers.append(buyer)
        times.append(t)
        scores.append((got[0], got[1], got[2]))
        defaults.append(flag)
        lines.append(n)
    if bad and not skip_bad_rows:
        raise RatingsError(p, bad)
    ratings = Ratings(
        tuple(buyers),
        np.asarray(times, dtype=np.float64),
        np.asarray(scores, dtype=np.float64).reshape(-1, len(DIMENSIONS)),
        np.asarray(defaults, dtype=np.bool_),
        tuple(lines),
    )
    return ImportedRatings(ratings, n_rows, bad if skip_bad_rows else [])


def counted(ratings: Ratings, rule: DsrRule) -> B:
    """Which ratings count: each buyer's first ``per_buyer_month`` per natural month.

    Default ratings are left out first (unless ``count_default``), so they take
    none of the buyer's places.
    """
    zone = zone_info(rule.timezone)
    n = ratings.time_s.size
    keep = np.zeros(n, dtype=np.bool_)
    used: Counter[tuple[str, int, int]] = Counter()
    # By time, ties in file order (a stable sort of the file's order).
    for i in np.argsort(ratings.time_s, kind="stable").tolist():
        if ratings.default[i] and not rule.count_default:
            continue
        local = dt.datetime.fromtimestamp(float(ratings.time_s[i]), tz=zone)
        key = (ratings.buyer[i], local.year, local.month)
        if used[key] < rule.per_buyer_month:
            used[key] += 1
            keep[i] = True
    return keep


def score_dsr(
    ratings: Ratings, rule: DsrRule, history: dict[str, DailyHistory] | None = None
) -> dict[str, MetricSeries]:
    """The three DSR dimensions, day by day and over the rolling window.

    Parameters
    ----------
    ratings
        The store's ratings.
    rule
        The options.
    history
        Days before the export, per metric (``taobao.dsr_service``, ...): that day's
        counted ratings and their mean, as a history file gives them.
    """
    zone = zone_info(rule.timezone)
    keep = counted(ratings, rule)
    epoch = dt.date(1970, 1, 1)
    every = np.array(
        [
            (dt.datetime.fromtimestamp(float(t), tz=zone).date() - epoch).days
            for t in ratings.time_s
        ],
        dtype=np.int64,
    )
    days = every[keep]
    # The export's whole span, so a day whose ratings all fell out of the count still
    # shows the window's value.
    span = (int(every.min()), int(every.max())) if every.size else None
    out = {}
    for j, dim in enumerate(DIMENSIONS):
        metric = f"taobao.dsr_{dim}"
        out[metric] = daily_series(
            metric=metric,
            label=LABELS[dim],
            unit="score",
            higher_is_better=True,
            threshold=rule.threshold,
            window_days=rule.window_days,
            unit_day=days,
            unit_value=ratings.scores[keep, j],
            history=(history or {}).get(metric),
            span=span,
        )
    return out
