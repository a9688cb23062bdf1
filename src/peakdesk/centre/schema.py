"""The centre file: a team (pools, seats, routing) and the client shops it serves.

A centre file is TOML, validated like a scenario (every problem names its field
path, e.g. ``clients[1].price_per_conversation``)::

    [centre]
    name = "Manila three-shop centre"
    currency = "PHP"

    [calendar]                  # the team's clock: shifts, intervals, reports
    start = 2026-11-10T00:00:00
    horizon = "4d"
    timezone = "Asia/Manila"

    [[pools]]                   # a scenario's pool; skills name clients
    name = "shared"
    skills = { tmall = 1.0, lazada = 0.9 }   # a client: all its inquiry types
    languages = ["zh", "en"]
    shifts = [{ start = "08:00", length = "9h", agents = 20 }]

    [[clients]]
    name = "tmall"
    scenario = "../tmall-double11.toml"      # its calendar, demand, types, targets, rules
    language = "zh"
    price_per_conversation = 12.0
    penalty_per_missed_target = 50000

    [[clients]]
    name = "lazada"                          # or the sections inline
    [clients.calendar] ...
    [clients.demand] ...
    [[clients.inquiry_types]] ...
    [clients.targets] ...

A pool's ``skills`` key is a client's name (every inquiry type of it, at that
proficiency) or ``<client>-<skill>`` (one of its skills).  A client given by
``scenario`` takes that file's calendar, demand, inquiry types, targets, rules,
history and sub-account cap; its pools are not used (the team serves it).  A
``[clients.targets]`` beside ``scenario`` replaces the shop's targets (the
contract's; its ``history`` is read from the centre file's folder).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from peakdesk.scenario.schema import (
    MAX_ITEMS,
    MAX_MULTIPLIER,
    MAX_SUBACCOUNTS,
    Calendar,
    Demand,
    FieldProblem,
    InquiryType,
    Name,
    PlanSettings,
    Pool,
    PositiveDuration,
    Routing,
    Simulation,
    SubAccounts,
    Targets,
    _Model,
    daily_cv_checked,
)

#: Most money per conversation, hour, month or missed target: beyond is a typo.
MAX_PRICE = 1e12


class CentreMeta(_Model):
    """The centre: its name and the currency of its wages and contracts."""

    name: str
    description: str = ""
    currency: str = "CNY"


class CentrePool(Pool):
    """A pool of the team: a scenario pool whose skills name clients, and its languages."""

    languages: list[str] = Field(
        default_factory=list,
        description="languages its agents write (empty: any); a client's language must be one",
    )


class Client(_Model):
    """A client shop: where its buyers come from, what its platform demands, its contract."""

    name: Name
    scenario: str | None = Field(
        default=None,
        description="a scenario file (relative to the centre file) for the client's shop",
    )
    calendar: Calendar | None = None
    demand: Demand | None = None
    inquiry_types: list[InquiryType] | None = Field(default=None, max_length=MAX_ITEMS)
    targets: Targets | None = None
    rules: dict[str, dict[str, Any]] | None = None
    subaccounts: SubAccounts | None = None
    demand_multiplier: float = Field(
        default=1.0,
        gt=0.0,
        le=MAX_MULTIPLIER,
        description="times its shop's demand (on top of the shop's demand.multiplier); "
        "`plan --margin` writes it into planned.toml",
    )
    daily_cv: float | None = Field(
        default=None,
        ge=0.0,
        le=10.0,
        description="replaces its shop's demand.daily_cv (forecast uncertainty); "
        "`plan --quantile` writes 0 into planned.toml",
    )
    language: str | None = Field(default=None, description="the language its buyers write in")
    priority: int | None = Field(
        default=None, ge=0, description="queue priority of all its types (lower first)"
    )
    reply_deadline: PositiveDuration | None = Field(
        default=None,
        description="the reply time its platform counts (Taobao '3min', Shopee '12h'): with "
        "routing.queue_order = 'deadline', the chat nearest its client's deadline goes first",
    )
    seat_limit: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SUBACCOUNTS,
        description="sub-accounts its shop may have online (default: its subaccounts.platform_cap)",
    )
    seat_rule: Literal["logged_in", "while_holding"] = Field(
        default="logged_in",
        description="how the team's agents use the shop's seat_limit sub-accounts: "
        "'logged_in' (every agent of a pool serving it online holds one, the strict rule) "
        "or 'while_holding' (an agent holds one only while it holds the shop's chats: a "
        "shared agent logs into the shop when it takes a chat and out with the last)",
    )
    price_per_conversation: float = Field(default=0.0, ge=0.0, le=MAX_PRICE)
    price_per_hour: float = Field(
        default=0.0,
        ge=0.0,
        le=MAX_PRICE,
        description="per billed agent-hour (which hours: hours_billed)",
    )
    hours_billed: Literal["allocated", "writing"] = Field(
        default="allocated",
        description=(
            "the hours price_per_hour is charged on: 'allocated' (the agents' paid hours "
            "split over the clients by their share of the writing time, idle time "
            "following the work it waited for) or 'writing' (only the time its agents "
            "spent writing its replies)"
        ),
    )
    monthly_fee: float = Field(
        default=0.0, ge=0.0, le=MAX_PRICE, description="per 30 days, pro rata over the horizon"
    )
    penalty_per_missed_target: float = Field(default=0.0, ge=0.0, le=MAX_PRICE)

    @field_validator("daily_cv")
    @classmethod
    def _cv(cls, value: float | None) -> float | None:
        return None if value is None else daily_cv_checked(value)

    @model_validator(mode="after")
    def _source(self) -> Client:
        if self.seat_rule == "while_holding" and self.seat_limit is None:
            raise FieldProblem(
                "seat_rule",
                "'while_holding' rules the shop's seat_limit sub-accounts: give seat_limit",
            )
        # `targets` may stand beside `scenario`: the contract's targets replace the shop's.
        inline = {
            k: getattr(self, k)
            for k in ("calendar", "demand", "inquiry_types", "rules", "subaccounts")
            if getattr(self, k) is not None
        }
        if self.scenario is not None and inline:
            raise FieldProblem(
                "scenario",
                f"give the client's shop as a scenario file or inline, not both "
                f"(inline here: {sorted(inline)})",
            )
        if self.scenario is None:
            for need in ("calendar", "demand", "inquiry_types"):
                if need not in inline:
                    raise FieldProblem(
                        need,
                        f"a client without `scenario` needs its own [{need}] (or give "
                        '`scenario = "shop.toml"`)',
                    )
        return self


class CentreTargets(_Model):
    """How sure a centre plan must be of keeping every client's targets."""

    confidence: float | None = Field(
        default=None,
        gt=0.0,
        lt=1.0,
        description="required P(every target of every client met); default: the clients' highest",
    )


class Seats(_Model):
    """The centre's own workstations: agents online at once (default: no limit)."""

    count: int | None = Field(default=None, ge=1, le=MAX_SUBACCOUNTS)


class Centre(_Model):
    """A whole centre file."""

    centre: CentreMeta
    calendar: Calendar
    pools: list[CentrePool] = Field(min_length=1, max_length=MAX_ITEMS)
    clients: list[Client] = Field(min_length=1, max_length=MAX_ITEMS)
    seats: Seats = Field(default_factory=Seats)
    routing: Routing = Field(default_factory=Routing)
    simulation: Simulation = Field(default_factory=Simulation)
    targets: CentreTargets = Field(default_factory=CentreTargets)
    plan: PlanSettings = Field(default_factory=PlanSettings)

    @model_validator(mode="after")
    def _unique(self) -> Centre:
        names = [c.name for c in self.clients]
        for k, n in enumerate(names):
            if names.index(n) != k:
                raise FieldProblem(
                    f"clients[{k}].name", f"client names must be unique, got {names}"
                )
        pools = [p.name for p in self.pools]
        for k, n in enumerate(pools):
            if pools.index(n) != k:
                raise FieldProblem(f"pools[{k}].name", f"pool names must be unique, got {pools}")
        return self
