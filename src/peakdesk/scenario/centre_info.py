"""What a compiled outsourcing-centre file carries beside its scenario.

A centre (:mod:`peakdesk.centre`) is simulated as one scenario whose inquiry
types are its clients' types (named ``<client>-<type>``) and whose pools are the
team.  What a scenario file cannot say travels with it here: which types belong
to which client, the client's clock and rule options for scoring its targets,
its history, contract and seat limit, and the demand already built on the
team's timeline (each client's curve in its own clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class DayGroup:
    """Inquiry types whose volume shares one forecast-uncertainty factor per day.

    Attributes
    ----------
    rows
        Indices of the types (rows of the intensity).
    cv
        Coefficient of variation of the daily volume factor (the client's
        ``demand.daily_cv``; 0: none).
    day
        Per intensity bin, the index of the client's local day (0, 1, ...).
    """

    rows: tuple[int, ...]
    cv: float
    day: I64


@dataclass(frozen=True)
class ClientInfo:
    """One client shop of a centre.

    Attributes
    ----------
    name
        The client's id (unique in the centre).
    types
        Indices of its inquiry types in the compiled scenario.
    timezone
        Its shop's clock (IANA name): its platform rules score on it.
    rules
        Per platform, the rule options of the client's ``[rules]`` table.
    holidays
        Its market's public holidays (the rules that leave them out).
    history
        The client's history (metric -> DailyHistory), for its rolling windows.
    targets
        Its targets as written (without the ``[client]`` scope).
    seat_limit
        Sub-accounts its shop may have online (None: no limit).
    pools
        Indices of the pools with a skill of this client: each of their agents
        online logs into the client's shop (one of its sub-accounts).
    language
        The language its buyers write in (None: any pool may serve).
    price_per_conversation, price_per_hour, monthly_fee
        The contract: revenue per conversation handled, per billed agent-hour,
        and a fixed fee per 30 days (pro rata over the horizon); centre currency.
    hours_billed
        The hours ``price_per_hour`` is charged on: ``"allocated"`` paid hours
        or ``"writing"`` time (:mod:`peakdesk.centre.accounts`).
    seat_rule
        ``"logged_in"``: every agent of ``pools`` online holds one of its
        sub-accounts; ``"while_holding"``: only while it holds the client's chats.
    penalty_per_missed_target
        Owed per target missed in a run, centre currency.
    """

    name: str
    types: tuple[int, ...]
    timezone: str
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    holidays: tuple[Any, ...] = ()
    history: dict[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    seat_limit: int | None = None
    pools: tuple[int, ...] = ()
    language: str | None = None
    price_per_conversation: float = 0.0
    price_per_hour: float = 0.0
    hours_billed: str = "allocated"
    seat_rule: str = "logged_in"
    monthly_fee: float = 0.0
    penalty_per_missed_target: float = 0.0


@dataclass(frozen=True)
class CentreInfo:
    """A compiled centre: its clients and its demand on the team's timeline.

    Attributes
    ----------
    name
        The centre's name.
    clients
        In file order.
    bin_s
        Width of the demand bins, seconds.
    expected
        Expected conversations per (type, bin), before ``demand.multiplier``
        and forecast uncertainty.
    day_groups
        One per client: its types' daily volume factor on its own local days.
    """

    name: str
    clients: tuple[ClientInfo, ...]
    bin_s: float
    expected: F64
    day_groups: tuple[DayGroup, ...]

    def client(self, name: str) -> ClientInfo:
        """The client named ``name`` (KeyError: none)."""
        for c in self.clients:
            if c.name == name:
                return c
        raise KeyError(name)
