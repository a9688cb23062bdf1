"""The scenario schema: pydantic v2 models of a scenario file.

Only this package knows the file format.  Every duration is given with a unit
(``"90s"``, ``"3min"``, ``"12h"``) and stored as float seconds; every model is
frozen, and unknown keys are rejected so that a typo names its field instead of
being silently ignored.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from peakdesk.scenario.staffing_table import StaffingTable
from peakdesk.units import (
    ALLOWED_UNITS,
    error_text,
    format_duration,
    format_long_duration,
    parse_duration_s,
    zone_info,
)

# ---------------------------------------------------------------------------
# Bounds: magnitudes beyond these are typos or fuzz, never a chat centre's
# ---------------------------------------------------------------------------

#: Longest duration any field takes (the horizon included), seconds: 366 days.
MAX_DURATION_S = 366 * 86400.0
#: Dates of the simulated period, promotions and the peak day: [2000-01-01, 2100-01-01).
FIRST_YEAR, END_YEAR = 2000, 2100
#: Most buyer messages in one conversation (a fixed count, a mean, a truncation).
MAX_MESSAGES = 10_000
#: Most agents on one shift pattern, sub-accounts and agents a day.
MAX_AGENTS = 100_000
MAX_SUBACCOUNTS = 1_000_000
#: Normal-day volume, expected total, demand multiplier and the profiles' day factors.
MAX_VOLUME_PER_DAY = 1e9
MAX_TOTAL = 1e11
MAX_MULTIPLIER = 1e4
#: Replication numbers the planner's refinement may use, ``0 ..`` (the verification's
#: start at this number).
REFINEMENT_SEEDS = 100_000
#: A refinement iteration's replications grow to at most this multiple of
#: ``plan.replications`` (peakdesk.plan.requirement.MAX_GROWTH).
REFINEMENT_GROWTH = 16
MAX_FACTOR = 1e3
#: Cost of one agent-hour, and of a month of sub-accounts, in the scenario's currency.
MAX_HOURLY_COST = 1e9
MAX_MONTHLY_COST = 1e12
#: Replications of a run, inquiry types and pools of a scenario.
MAX_REPLICATIONS = 10_000
MAX_ITEMS = 200
#: A reply at the slowest pool may take at most this many horizons (mean compose time
#: x concurrency slowdown / (speed x proficiency)); beyond, agents would drain for ages.
MAX_REPLY_HORIZONS = 100.0

# ---------------------------------------------------------------------------
# Field types
# ---------------------------------------------------------------------------


def _to_seconds(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a duration with a unit: {ALLOWED_UNITS}")
    if isinstance(value, (int, float)):
        # A bare number is ambiguous (seconds? minutes?), so we refuse it.
        raise ValueError(f"a bare number {value!r} has no unit; write it as {ALLOWED_UNITS}")
    if isinstance(value, str):
        seconds = parse_duration_s(value)
        if not seconds <= MAX_DURATION_S:
            shown = value if len(value) <= 30 else value[:27] + "..."
            raise ValueError(f"{shown!r} is longer than 366d; durations are at most 366d")
        return seconds
    return value


_DURATION_SCHEMA = {
    "type": "string",
    "pattern": r"^\s*((\d+(\.\d*)?|\.\d+)\s*(ms|s|sec|min|m|h|hr|d|day|days)\s*)+$",
    "examples": ["90s", "3min", "1h30min", "12h"],
    "description": "duration with a unit",
}

Duration = Annotated[
    float,
    BeforeValidator(_to_seconds),
    Field(ge=0.0),
    WithJsonSchema(_DURATION_SCHEMA),
]
"""A non-negative duration, written with a unit, held as seconds."""

PositiveDuration = Annotated[
    float,
    BeforeValidator(_to_seconds),
    Field(gt=0.0),
    WithJsonSchema(_DURATION_SCHEMA),
]

ShiftLength = Annotated[
    float,
    BeforeValidator(_to_seconds),
    Field(gt=0.0, le=86400.0),
    WithJsonSchema(_DURATION_SCHEMA | {"description": "shift length, at most 24h"}),
]
"""A shift's length: positive, at most a day (one person works one shift at a time)."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


def _in_years(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)) and not FIRST_YEAR <= value.year < END_YEAR:
        raise ValueError(
            f"{value.isoformat()} is out of range; dates must lie in {FIRST_YEAR}-{END_YEAR - 1}"
        )
    return value


EventDate = Annotated[dt.date, AfterValidator(_in_years)]
"""A date of the simulated event (the peak day): in :data:`FIRST_YEAR`..:data:`END_YEAR`."""

EventDateTime = Annotated[dt.datetime, AfterValidator(_in_years)]
"""A local date-time of the simulated event, in :data:`FIRST_YEAR`..:data:`END_YEAR`."""


#: A pool's or an inquiry type's name: letters of any script (with their combining
#: marks: Thai vowels, Vietnamese tones), digits, ``_`` and ``-``, starting with a
#: letter or ``_``.  Names are keys of ``--set`` paths (``pools.售前.speed``) and
#: column suffixes of the CSV files, hence no dots, spaces or quotes.
def _is_name(value: str) -> bool:
    if not value or not (value[0] == "_" or unicodedata.category(value[0]).startswith("L")):
        return False
    return all(c in "_-" or unicodedata.category(c)[0] in "LMN" for c in value)


def _name(value: str) -> str:
    if not _is_name(value):
        raise ValueError(
            f"{value!r} is not a name: use letters (any script: 售前, ฝ่ายขาย, tư_vấn), digits, "
            "'_' and '-', starting with a letter or '_' (no spaces or dots)"
        )
    return value


Name = Annotated[
    str,
    AfterValidator(_name),
    Field(
        min_length=1,
        max_length=64,
        description="letters of any script, digits, '_' and '-'; not starting with a digit",
    ),
]
"""A pool's or an inquiry type's name (see :func:`_is_name`)."""

Factor = Annotated[float, Field(gt=0.0, le=MAX_FACTOR)]
"""A positive volume factor relative to a normal day, at most :data:`MAX_FACTOR`."""


def _clock_s(value: Any) -> Any:
    """Read a local clock time ``"HH:MM"`` (or a TOML time) as seconds after midnight."""
    if isinstance(value, dt.time):
        return value.hour * 3600 + value.minute * 60 + value.second
    if isinstance(value, str):
        try:
            t = dt.time.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(
                f"cannot read clock time {value!r}; use 'HH:MM', e.g. '08:30'"
            ) from exc
        return t.hour * 3600 + t.minute * 60 + t.second
    raise ValueError(f"expected a clock time 'HH:MM', got {value!r}")


CLOCK_EXAMPLES = ["08:00"]

ClockTime = Annotated[
    float,
    BeforeValidator(_clock_s),
    WithJsonSchema(
        {"type": "string", "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$", "examples": CLOCK_EXAMPLES}
    ),
]
"""Local time of day, ``"HH:MM"``, held as seconds after midnight."""


class FieldProblem(ValueError):
    """A cross-field check that knows which field is wrong.

    Parameters
    ----------
    rel
        Path of the offending field relative to the model being validated,
        e.g. ``"breaks[1]"`` or ``"inquiry_types[2].skill"``.
    message
        What is wrong and what is allowed.
    """

    def __init__(self, rel: str, message: str) -> None:
        super().__init__(message)
        self.rel = rel


class _Model(BaseModel):
    # No infinite or NaN numbers: TOML allows `inf` and `nan`, no field means them.
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


# ---------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------


class Fixed(_Model):
    """Always the same duration."""

    dist: Literal["fixed"]
    value: Duration


class Exponential(_Model):
    """Exponential duration with the given mean."""

    dist: Literal["exponential"]
    mean: PositiveDuration


class LogNormal(_Model):
    """Log-normal duration given by its mean and coefficient of variation."""

    dist: Literal["lognormal"]
    mean: PositiveDuration
    cv: float = Field(gt=0.0, le=100.0, description="coefficient of variation (sd / mean)")


class GammaDist(_Model):
    """Gamma duration given by its mean and coefficient of variation."""

    dist: Literal["gamma"]
    mean: PositiveDuration
    # Gamma shape 1 / cv^2: below 1e-3 the shape (1e6) is a fixed duration in all but cost.
    cv: float = Field(ge=1e-3, le=100.0, description="coefficient of variation (sd / mean)")


class Uniform(_Model):
    """Uniform duration on [low, high]."""

    dist: Literal["uniform"]
    low: Duration
    high: Duration

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise FieldProblem("high", f"high ({self.high:g} s) must be >= low ({self.low:g} s)")
        return self


DurationDist = Annotated[
    Fixed | Exponential | LogNormal | GammaDist | Uniform, Field(discriminator="dist")
]


class NoPatience(_Model):
    """Buyers never leave (infinite patience)."""

    dist: Literal["none"]


PatienceDist = Annotated[
    Fixed | Exponential | LogNormal | GammaDist | Uniform | NoPatience,
    Field(discriminator="dist"),
]


class FixedCount(_Model):
    """Always the same number of buyer messages."""

    dist: Literal["fixed"]
    value: int = Field(ge=1, le=MAX_MESSAGES)


class GeometricCount(_Model):
    """Geometric number of buyer messages on {1, 2, ...} with the given mean."""

    dist: Literal["geometric"]
    mean: float = Field(ge=1.0, le=MAX_MESSAGES)
    max: int = Field(default=50, ge=1, le=MAX_MESSAGES, description="truncation, messages")


class PoissonCount(_Model):
    """``1 + Poisson(mean - 1)`` buyer messages."""

    dist: Literal["poisson"]
    mean: float = Field(ge=1.0, le=MAX_MESSAGES)
    max: int = Field(default=50, ge=1, le=MAX_MESSAGES, description="truncation, messages")


class EmpiricalCount(_Model):
    """Buyer messages drawn from listed values with weights."""

    dist: Literal["empirical"]
    values: list[Annotated[int, Field(ge=1, le=MAX_MESSAGES)]] = Field(min_length=1)
    weights: list[Annotated[float, Field(ge=0.0, le=1e12)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> EmpiricalCount:
        if len(self.values) != len(self.weights):
            raise FieldProblem(
                "weights",
                f"{len(self.weights)} weights for {len(self.values)} values; give one per value",
            )
        if any(v < 1 for v in self.values):
            raise FieldProblem(
                "values", "every value must be >= 1 (a conversation has at least one message)"
            )
        if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise FieldProblem("weights", "weights must be >= 0 with a positive sum")
        return self


CountDist = Annotated[
    FixedCount | GeometricCount | PoissonCount | EmpiricalCount, Field(discriminator="dist")
]

# ---------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------


class Meta(_Model):
    """Free description of the scenario."""

    name: str
    description: str = ""
    platform: Literal[
        "taobao", "tmall", "lazada", "shopee", "jd", "douyin", "tiktok", "amazon", "generic"
    ] = "generic"
    currency: str = "CNY"


class Calendar(_Model):
    """When the simulated period is and how it is reported."""

    start: EventDateTime = Field(description="local start, e.g. 2026-11-10T00:00:00")
    horizon: PositiveDuration = Field(
        description="simulated period during which buyers arrive (at most 366d)"
    )
    timezone: str = Field(description="IANA zone, e.g. 'Asia/Shanghai'")
    interval: PositiveDuration = Field(
        default=900.0, description="reporting interval (at least 1s)"
    )
    holidays: list[dt.date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_info(value)
        return value

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: float) -> float:
        if value < 1.0:
            raise ValueError(f"a reporting interval of {value:g} s; it must be at least 1s")
        return value

    @model_validator(mode="after")
    def _ends_in_range(self) -> Calendar:
        end = self.start + dt.timedelta(seconds=self.horizon)
        if end.year >= END_YEAR:
            raise FieldProblem(
                "horizon",
                f"the horizon ends {end.isoformat()}; it must end before {END_YEAR}-01-01",
            )
        return self

    @field_validator("start")
    @classmethod
    def _naive(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is not None:
            # The zone is given once, in `timezone`; an offset here could contradict it.
            raise ValueError("give a local datetime without offset; the zone goes in 'timezone'")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's zone."""
        return ZoneInfo(self.timezone)

    @property
    def start_aware(self) -> dt.datetime:
        """The start as an aware datetime in the calendar's zone."""
        return self.start.replace(tzinfo=self.zone)


class Double11Options(_Model):
    """Shape of the built-in Double-11 profile (see DOMAIN.md)."""

    peak_date: EventDate | None = Field(
        default=None, description="the peak day; default 11 November of the start year"
    )
    peak_day_factor: float = Field(
        default=6.0, gt=0.0, le=MAX_FACTOR, description="peak-day volume / normal day"
    )
    first_hour_share: float = Field(
        default=0.33, gt=0.0, lt=1.0, description="share of the peak day's volume in 00:00-01:00"
    )
    presale_wave_dates: list[dt.date] = Field(
        default_factory=list, description="days with a 20:00 final-payment wave"
    )
    presale_wave_factor: float = Field(
        default=2.0,
        ge=1.0,
        le=MAX_FACTOR,
        description="that day's volume / normal day (the wave adds to it)",
    )
    aftersale_factors: list[Factor] = Field(
        default_factory=lambda: [2.5, 2.0, 1.6, 1.3],
        description="volume of the days after the peak relative to a normal day",
    )
    first_hour_decay: PositiveDuration = Field(
        default=600.0, description="time constant of the fading 00:00 surge"
    )
    presale_wave_time: ClockTime = Field(
        default=72000.0, description="local time of the final-payment wave"
    )
    presale_wave_decay: PositiveDuration = Field(
        default=1200.0, description="time constant of the fading presale wave"
    )
    normal_hourly: list[Annotated[float, Field(gt=0.0, le=1e12)]] | None = Field(
        default=None,
        min_length=24,
        max_length=24,
        description="relative volume of each hour 00..23 of a normal day (default built in)",
    )


class PromoOptions(_Model):
    """A spike before each promotion time."""

    times: list[EventDateTime] = Field(min_length=1, description="local promotion times")
    lead: Duration = 1800.0
    spike_factor: float = Field(
        default=6.0, ge=1.0, le=MAX_FACTOR, description="intensity x in the lead window"
    )
    decay: PositiveDuration = 1800.0


class BusinessTargets(_Model):
    """Demand from the seller's business plan: GMV target -> orders -> conversations.

    The spreadsheet method sellers plan 11.11 with: orders = GMV / average order
    value; pre-sale conversations = orders x ``presale_per_order``, or orders x
    ``inquiry_share`` / ``inquiry_conversion`` (the share of orders that come after
    a pre-sale chat, over 询单转化率, the orders per pre-sale chat); after-sale
    conversations = orders x ``after_sale_rate``.  Their sum is the horizon's
    expected conversations, spread over the profile (or the forecast's shape).
    """

    gmv: float = Field(gt=0.0, le=1e15, description="GMV target over the horizon (currency)")
    average_order_value: float = Field(gt=0.0, le=1e9, description="currency per order")
    presale_per_order: float | None = Field(
        default=None, gt=0.0, le=1000.0, description="pre-sale conversations per order"
    )
    inquiry_conversion: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="orders per pre-sale conversation (询单转化率), with inquiry_share",
    )
    inquiry_share: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="share of orders placed after a pre-sale chat (the rest order silently)",
    )
    after_sale_rate: float = Field(
        default=0.0, ge=0.0, le=100.0, description="after-sale conversations per order"
    )

    @model_validator(mode="after")
    def _one_presale(self) -> BusinessTargets:
        if (self.presale_per_order is None) == (self.inquiry_conversion is None):
            raise FieldProblem(
                "presale_per_order",
                "give exactly one of 'presale_per_order' and 'inquiry_conversion' "
                "(with 'inquiry_share')",
            )
        return self

    @property
    def orders(self) -> float:
        """Orders over the horizon."""
        return self.gmv / self.average_order_value

    @property
    def presale_conversations(self) -> float:
        """Pre-sale conversations over the horizon."""
        if self.presale_per_order is not None:
            return self.orders * self.presale_per_order
        assert self.inquiry_conversion is not None
        return self.orders * self.inquiry_share / self.inquiry_conversion

    @property
    def conversations(self) -> float:
        """Expected conversations over the horizon (pre-sale and after-sale)."""
        return self.presale_conversations + self.orders * self.after_sale_rate


def daily_cv_checked(value: float) -> float:
    """A forecast's ``daily_cv``: 0 (no uncertainty) or at least 0.001.

    The day factors are Gamma(1 / cv^2, cv^2): a cv of 1e-300 would divide by zero.
    """
    if 0.0 < value < 1e-3:
        raise ValueError(f"{value:g}; give 0 (no forecast uncertainty) or a CV of at least 0.001")
    return value


class Demand(_Model):
    """How many conversations arrive, and when."""

    profile: Literal["flat", "double11", "promo", "csv", "shape"] = "flat"
    volume_per_day: float | None = Field(
        default=None,
        gt=0.0,
        le=MAX_VOLUME_PER_DAY,
        description="conversations on a normal day (before the profile)",
    )
    total: float | None = Field(
        default=None,
        gt=0.0,
        le=MAX_TOTAL,
        description="expected conversations over the whole horizon",
    )
    forecast: str | None = Field(
        default=None,
        description=(
            "CSV path (relative to the scenario file): for profile='csv' every interval's "
            "conversations; for profile='shape' a day's (time,weight) or a week's "
            "(weekday,time,weight) shape, repeated over the horizon"
        ),
    )
    day_volumes: str | None = Field(
        default=None,
        description=(
            "for profile='shape': a CSV of date,conversations, each local day's volume "
            "(instead of volume_per_day or total)"
        ),
    )
    multiplier: float = Field(default=1.0, gt=0.0, le=MAX_MULTIPLIER)
    daily_cv: float = Field(
        default=0.0,
        ge=0.0,
        le=10.0,
        description="forecast uncertainty: CV of each day's volume (Gamma)",
    )
    double11: Double11Options = Field(default_factory=Double11Options)
    promo: PromoOptions | None = None
    business: BusinessTargets | None = Field(
        default=None,
        description="the volume from a GMV target instead of volume_per_day or total",
    )

    @field_validator("daily_cv")
    @classmethod
    def _cv(cls, value: float) -> float:
        return daily_cv_checked(value)

    @model_validator(mode="after")
    def _volume(self) -> Demand:
        if self.business is not None:
            for name in ("volume_per_day", "total"):
                if getattr(self, name) is not None:
                    raise FieldProblem(
                        name,
                        "with [demand.business] the volume comes from the GMV target; "
                        "remove this (or the business table)",
                    )
            if self.business.conversations > MAX_TOTAL:
                raise FieldProblem(
                    "business",
                    f"{self.business.conversations:.3g} conversations over the horizon; at most "
                    f"{MAX_TOTAL:g}",
                )
            if self.profile in ("csv", "shape") and self.forecast is None:
                raise FieldProblem(
                    "forecast", f"profile {self.profile!r} needs 'forecast' (a CSV path)"
                )
            if self.day_volumes is not None:
                raise FieldProblem(
                    "day_volumes",
                    "with [demand.business] the volume comes from the GMV target; remove this",
                )
            if self.profile == "promo" and self.promo is None:
                raise FieldProblem(
                    "promo", "profile 'promo' needs a [demand.promo] table with 'times'"
                )
            return self
        if self.day_volumes is not None and self.profile != "shape":
            raise FieldProblem(
                "day_volumes", "day volumes scale a repeating shape: give profile = 'shape'"
            )
        if self.profile == "csv":
            if self.forecast is None:
                raise FieldProblem("forecast", "profile 'csv' needs 'forecast' (a CSV path)")
            if self.volume_per_day is not None or self.total is not None:
                raise FieldProblem(
                    "volume_per_day" if self.volume_per_day is not None else "total",
                    "with profile 'csv' the volume comes from the forecast file; remove this",
                )
        elif self.profile == "shape":
            if self.forecast is None:
                raise FieldProblem(
                    "forecast", "profile 'shape' needs 'forecast': the shape's CSV path"
                )
            given = [
                n
                for n in ("volume_per_day", "total", "day_volumes")
                if getattr(self, n) is not None
            ]
            if len(given) != 1:
                raise FieldProblem(
                    given[1] if len(given) > 1 else "volume_per_day",
                    "give exactly one of 'volume_per_day', 'total' or 'day_volumes' (a CSV "
                    "of date,conversations)",
                )
        else:
            if (self.volume_per_day is None) == (self.total is None):
                raise FieldProblem(
                    "volume_per_day", "give exactly one of 'volume_per_day' or 'total'"
                )
        if self.profile == "promo" and self.promo is None:
            raise FieldProblem("promo", "profile 'promo' needs a [demand.promo] table with 'times'")
        return self


class PhaseShare(_Model):
    """An inquiry type's share before, on and after the peak day."""

    before: float = Field(ge=0.0)
    on: float = Field(ge=0.0)
    after: float = Field(ge=0.0)


class Conversion(_Model):
    """Pre-sale conversion probability decaying with the first-response delay.

    ``p(delay) = base * 0.5 ** (delay / half_life)``; a buyer who abandons never converts.
    """

    base: Probability
    half_life: PositiveDuration


class InquiryType(_Model):
    """A kind of buyer question and how its conversations unfold."""

    name: Name
    share: float | PhaseShare = Field(description="share of conversations, or by phase")
    skill: str | None = Field(default=None, description="required skill; default: the type name")
    priority: int = Field(default=5, ge=0, description="queue priority; lower is served first")
    messages: CountDist = Field(description="buyer messages per conversation")
    think_time: DurationDist = Field(description="buyer time between a reply and the next message")
    compose_time: DurationDist = Field(description="agent time to write one reply at full speed")
    patience: PatienceDist = Field(description="how long a buyer waits for the first reply")
    bot_resolve: Probability = Field(default=0.0, description="probability a bot resolves it")
    conversion: Conversion | None = None
    wrap_up: Duration = Field(
        default=0.0, description="time the slot stays held after the final reply"
    )
    reply_deadline: PositiveDuration | None = Field(
        default=None,
        description=(
            "with routing.queue_order = 'deadline': the reply time its platform counts "
            "(Taobao 3min): of the chats waiting, the one nearest its deadline is taken first"
        ),
    )
    answer_after_abandon: bool = Field(
        default=True,
        description=(
            "true: a buyer who gives up leaves the message in the inbox and it is still "
            "answered (silent abandonment: it counts against response metrics); false: the "
            "conversation is withdrawn unanswered when patience runs out (call-centre style, "
            "as in Erlang A)"
        ),
    )
    patience_until: Literal["first_reply", "assignment"] = Field(
        default="first_reply",
        description=(
            "what a buyer's patience waits for: 'first_reply' (the first human reply; "
            "withdrawn chats go only while no agent has started writing it), or "
            "'assignment' (an agent taking the chat, as the analytic chat model assumes)"
        ),
    )

    @property
    def skill_name(self) -> str:
        """The skill an agent needs to take this type."""
        return self.skill or self.name


class Break(_Model):
    """A break inside a shift, offset from the shift start.

    With ``stagger`` the shift's agents take the break at evenly spread times
    over that window (agent k of n starts it ``k/n * stagger`` later), so a
    team does not all leave the queue at once.
    """

    after: Duration
    length: PositiveDuration
    stagger: Duration = 0.0


class Shift(_Model):
    """A shift pattern and how many of the pool's agents work it."""

    name: str = ""
    start: ClockTime
    length: ShiftLength
    agents: int = Field(ge=0, le=MAX_AGENTS)
    days: list[dt.date] | None = Field(
        default=None, description="dates this shift runs (local); default every day"
    )
    breaks: list[Break] = Field(default_factory=list)

    @model_validator(mode="after")
    def _breaks_inside(self) -> Shift:
        for k, b in enumerate(self.breaks):
            end = b.after + b.stagger + b.length
            if end > self.length:
                raise FieldProblem(
                    f"breaks[{k}]",
                    f"the break ends {format_duration(end)} into the shift (after + stagger + "
                    f"length), past the shift's length {format_duration(self.length)}",
                )
        return self


class PlanShifts(_Model):
    """Shift patterns ``peakdesk plan`` may choose for a pool, on every day of the horizon.

    Each (start, length, day) is a pattern; the planner decides how many agents
    start on each.  The pool's fixed ``shifts`` (if any) stay as given.
    """

    lengths: list[ShiftLength] = Field(
        default_factory=lambda: [8 * 3600.0], min_length=1, description="shift lengths allowed"
    )
    starts: list[ClockTime] | None = Field(
        default=None, description="allowed start times (default: every start_every)"
    )
    start_every: PositiveDuration = Field(
        default=3600.0, description="start-time grid (at least 1min)"
    )
    earliest: ClockTime = Field(default=0.0, description="earliest start on the grid")
    latest: ClockTime = Field(default=23 * 3600.0, description="latest start on the grid")
    breaks: list[Break] = Field(default_factory=list, description="breaks of every planned shift")
    days: list[dt.date] | None = Field(
        default=None, description="days planned shifts may run (default: every day)"
    )
    max_agents_per_day: int | None = Field(
        default=None, ge=0, le=MAX_AGENTS, description="most agents of this pool working on one day"
    )
    min_agents_per_day: int | None = Field(
        default=None,
        ge=0,
        le=MAX_AGENTS,
        description="fewest agents of this pool starting a shift on each day of the horizon "
        "(a contract minimum, or people who must be kept busy)",
    )
    max_per_shift: int | None = Field(
        default=None, ge=0, le=MAX_AGENTS, description="most agents starting on one pattern"
    )
    keep_fixed_shifts: bool = Field(
        default=False,
        description=(
            "keep the pool's fixed shifts as a floor and plan on top (default: the plan "
            "replaces them; `simulate` always runs the fixed shifts)"
        ),
    )

    @field_validator("start_every")
    @classmethod
    def _grid(cls, value: float) -> float:
        if value < 60.0:
            raise ValueError(
                f"a start-time grid of {value:g} s; it must be at least 1min "
                "(finer grids only multiply the planner's patterns)"
            )
        return value

    @model_validator(mode="after")
    def _breaks_fit(self) -> PlanShifts:
        shortest = min(self.lengths)
        for k, b in enumerate(self.breaks):
            if b.after + b.stagger + b.length > shortest:
                raise FieldProblem(
                    f"breaks[{k}]",
                    f"the break ends {format_duration(b.after + b.stagger + b.length)} into "
                    f"the shift, past the shortest planned length {format_duration(shortest)}",
                )
        if (
            self.min_agents_per_day is not None
            and self.max_agents_per_day is not None
            and self.min_agents_per_day > self.max_agents_per_day
        ):
            raise FieldProblem("min_agents_per_day", "must not exceed max_agents_per_day")
        if self.earliest > self.latest and self.starts is None:
            raise FieldProblem("latest", "latest must not be before earliest")
        return self

    def start_times_s(self) -> list[float]:
        """Allowed start times, seconds after local midnight."""
        if self.starts is not None:
            return sorted(set(self.starts))
        out, t = [], self.earliest
        while t <= self.latest + 1e-9:
            out.append(t)
            t += self.start_every
        return out


class Pool(_Model):
    """A group of agents with the same skills, speed, concurrency and cost."""

    name: Name
    kind: Literal["inhouse", "outsourced", "temp", "other"] = "inhouse"
    skills: dict[str, Annotated[float, Field(gt=0.0, le=2.0)]] = Field(
        min_length=1, description="skill -> proficiency (1.0 = full speed)"
    )
    speed: float = Field(
        default=1.0, gt=0.0, le=1e3, description="speed multiplier (2.0 = twice as fast)"
    )
    max_concurrency: int = Field(default=3, ge=1, le=50)
    slowdown_per_extra_chat: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description="compose time grows by this fraction per extra open chat",
    )
    compose_multiplier_by_concurrency: list[Annotated[float, Field(le=MAX_FACTOR)]] | None = Field(
        default=None,
        description="compose-time multiplier when holding 1, 2, ... chats (overrides slowdown)",
    )
    discipline: Literal["sequential", "parallel"] = Field(
        default="sequential",
        description=(
            "how an agent works its chats: 'sequential' (one reply at a time, oldest "
            "waiting buyer first, as a person types in a Qianniu-like workbench) or "
            "'parallel' (every waiting reply progresses at once, each slowed by the "
            "multiplier for the chats held; the analytic chat model)"
        ),
    )
    shift_end: Literal["drain", "hand_back", "log_off"] = Field(
        default="drain",
        description=(
            "at the end of a shift or at a break: 'drain' (take no new chats, finish the "
            "open ones, then log off), 'hand_back' (open chats go back to the head of "
            "their queue at once), 'log_off' (finish what you can within "
            "shift_end_grace, hand back the rest)"
        ),
    )
    shift_end_grace: Duration | None = Field(
        default=None, description="with shift_end = 'log_off': time allowed to finish"
    )
    hourly_cost: float = Field(
        default=0.0, ge=0.0, le=MAX_HOURLY_COST, description="cost per paid agent-hour"
    )
    shrinkage: Probability = Field(
        default=0.0, description="share of scheduled agents not available (absence, meetings)"
    )
    shifts: list[Shift] = Field(default_factory=list, description="fixed shifts")
    plan: PlanShifts | None = Field(
        default=None, description="shift patterns the planner may staff (peakdesk plan)"
    )
    staffing: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description=(
            "CSV of agents online per interval (interval_start, then a column named after "
            "the pool, online_<pool> or agents), relative to the scenario file; the pool's "
            "shifts, if any, add to it (README: Scenario files)"
        ),
    )
    # The table read from ``staffing`` by the loader (scenario.load), which knows the folder.
    _staffing_table: StaffingTable | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _multipliers(self) -> Pool:
        if not self.shifts and self.plan is None and self.staffing is None:
            raise FieldProblem(
                "shifts",
                'give fixed shifts, a staffing table (staffing = "file.csv") or a '
                "[pools.plan] for the planner",
            )
        if self.staffing is not None:
            if self.shrinkage > 0.0:
                raise FieldProblem(
                    "shrinkage",
                    f"{self.shrinkage:g} with a staffing table: a table counts agents online, "
                    "after absence; write the table net of absence and shrinkage = 0",
                )
            if self.plan is not None and not self.plan.keep_fixed_shifts:
                raise FieldProblem(
                    "plan.keep_fixed_shifts",
                    "a pool with a staffing table plans on top of it: set keep_fixed_shifts "
                    "= true (the table stays as a floor), or drop the table",
                )
        m = self.compose_multiplier_by_concurrency
        if m is not None:
            if len(m) != self.max_concurrency:
                raise FieldProblem(
                    "compose_multiplier_by_concurrency",
                    f"needs {self.max_concurrency} values, one per number of chats held "
                    f"1..max_concurrency ({self.max_concurrency}), got {len(m)}",
                )
            if any(x <= 0 for x in m):
                raise FieldProblem(
                    "compose_multiplier_by_concurrency", "compose multipliers must be > 0"
                )
            drop = next((k for k in range(1, len(m)) if m[k] < m[k - 1]), None)
            if drop is not None:
                raise FieldProblem(
                    f"compose_multiplier_by_concurrency[{drop}]",
                    f"{m[drop]:g} at {drop + 1} chats is below {m[drop - 1]:g} at {drop} "
                    "chats; a reply never gets quicker because the agent holds more chats, "
                    "so the multipliers must not decrease (equal values: no slowdown)",
                )
        if self.shift_end == "log_off":
            if self.shift_end_grace is None:
                raise FieldProblem(
                    "shift_end_grace",
                    "shift_end = 'log_off' needs the time agents may go on finishing "
                    'their chats, e.g. shift_end_grace = "5min" (0s: hand back at once)',
                )
        elif self.shift_end_grace is not None:
            raise FieldProblem(
                "shift_end_grace",
                f"a grace applies only to shift_end = 'log_off'; this pool has "
                f"shift_end = {self.shift_end!r} ('drain' has no limit, 'hand_back' none)",
            )
        return self

    @property
    def headcount(self) -> int:
        """Agents scheduled over all shift patterns (a staffing table is a level, not heads)."""
        return sum(s.agents for s in self.shifts)

    @property
    def staffing_table(self) -> StaffingTable | None:
        """The staffing table, once the loader has read it."""
        return self._staffing_table

    def with_staffing_table(self, table: StaffingTable) -> Pool:
        """This pool holding its read staffing table (the loader's step)."""
        out = self.model_copy()
        out._staffing_table = table
        return out


class SeatGroup(_Model):
    """Seats a set of pools shares besides the scenario's own: a shop's sub-accounts.

    Every agent of these pools online holds one of ``count`` (on top of the
    scenario's sub-account): an outsourcing centre's agents serving a client log
    into that client's shop, whose platform gives it a limited number.  An agent
    whose groups have no free seat waits, as for a sub-account.
    """

    name: str = Field(min_length=1, max_length=200)
    pools: list[Name] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="the pools whose agents online take a seat (taken = 'online'; with "
        "'holding', any agent taking a chat of `types` does, and pools only name them)",
    )
    count: int = Field(ge=1, le=MAX_SUBACCOUNTS)
    taken: Literal["online", "holding"] = Field(
        default="online",
        description="when an agent holds a seat: 'online' (from login to log-off, the "
        "strict rule) or 'holding' (only while it holds a chat of `types`: a centre logs "
        "a shared agent into a client's shop only while it works for it)",
    )
    types: list[Name] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="with taken = 'holding': the inquiry types whose chats take the seat",
    )

    @model_validator(mode="after")
    def _types(self) -> SeatGroup:
        if self.taken == "holding" and not self.types:
            raise FieldProblem("types", "taken = 'holding' needs the inquiry types it seats")
        if self.taken == "online" and self.types:
            raise FieldProblem("types", "only with taken = 'holding' (online seats take pools)")
        return self


class SubAccounts(_Model):
    """Chat seats: an online agent occupies one."""

    count: int = Field(ge=1, le=MAX_SUBACCOUNTS)
    platform_cap: int | None = Field(default=None, ge=1, le=MAX_SUBACCOUNTS)
    monthly_cost: float = Field(default=0.0, ge=0.0, le=MAX_MONTHLY_COST)
    groups: list[SeatGroup] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="seats some pools also need (a client shop's sub-accounts)",
    )

    @model_validator(mode="after")
    def _cap(self) -> SubAccounts:
        if self.platform_cap is not None and self.count > self.platform_cap:
            raise FieldProblem(
                "count", f"{self.count} exceeds the platform cap {self.platform_cap}"
            )
        return self


class RiskGroup(_Model):
    """Inquiry types whose running reply score ``routing.queue_order = "at_risk"`` protects.

    The group's score is its share, so far on the local day, of first replies
    sent within ``reply_deadline`` of the buyer's first message (a buyer who gave
    up unanswered counts as a miss; 1 before any); its margin is the score less
    ``bound``.  A centre compiles one per client (its reply deadline, the bound
    of its target on that deadline, its clock).
    """

    name: str = Field(min_length=1, max_length=200)
    types: list[Name] = Field(min_length=1, max_length=MAX_ITEMS)
    reply_deadline: PositiveDuration
    bound: float = Field(gt=0.0, lt=1.0, description="the share of replies in time to keep")
    timezone: str | None = Field(
        default=None,
        description="the days of its score (it starts afresh at each local midnight, as a "
        "daily target is judged); default: the calendar's",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone_info(value)  # an unknown zone: its message names the field
        return value


class Routing(_Model):
    """How waiting conversations reach agents."""

    policy: Literal["least_loaded", "longest_idle", "pool_priority"] = "least_loaded"
    pool_order: list[str] | None = Field(
        default=None, description="for pool_priority: pools in order (default: file order)"
    )
    queue_order: Literal["oldest", "deadline", "at_risk"] = Field(
        default="oldest",
        description=(
            "among waiting chats of equal priority: 'oldest' first, or 'deadline': the "
            "soonest due (waiting since + its type's reply_deadline); or 'at_risk': first "
            "the chats of the risk group (a centre's client) whose running share of replies "
            "in time is closest to its bound (or furthest below), then by priority, oldest"
        ),
    )
    risk_groups: list[RiskGroup] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="for queue_order = 'at_risk' (a centre compiles one per client)",
    )
    auto_greeting: bool = Field(default=False, description="auto reply on arrival (kind 'auto')")
    idle_close: Duration | None = Field(
        default=None, description="close a conversation after this much buyer silence"
    )


class Simulation(_Model):
    """Random seed, replications and the engine that plays them."""

    seed: int = Field(default=1, ge=0, lt=2**128)
    replications: int = Field(default=1, ge=1, le=MAX_REPLICATIONS)
    engine: Literal["compiled", "reference"] = Field(
        default="compiled",
        description=(
            "'compiled' (numba; the first run on a machine compiles it, about 20 s, then "
            "it is cached) or 'reference' (the simpy model it is proved equal to, bit for "
            "bit; slower)"
        ),
    )
    warm_up: PositiveDuration | None = Field(
        default=None,
        description=(
            "run this long before the start, with the scenario's own demand and shifts "
            "at those times, and cut it off every figure: the horizon starts with the "
            "queues and busy agents of a day in progress, not empty (a whole number of "
            "reporting intervals)"
        ),
    )
    horizon_end: Literal["close_out", "shift_end"] = Field(
        default="close_out",
        description=(
            "at the horizon (no buyer arrives after it): 'close_out' (agents whose shift "
            "ends from then on keep taking the waiting chats and log off when none is left "
            "for them: no chat is handed back to nobody, every open chat is closed) or "
            "'shift_end' (they follow their pool's shift_end as at any other time)"
        ),
    )


class Targets(_Model):
    """What a run must keep, and how sure the plan must be."""

    confidence: float = Field(
        default=0.95, gt=0.0, lt=1.0, description="required P(every target met)"
    )
    require: list[str] = Field(
        default_factory=list,
        description="targets such as 'taobao.response_3min >= 0.90', 'service_level(30s) >= 80%'",
    )
    history: str | None = Field(
        default=None,
        description=(
            "CSV of the seller's days before the horizon (date,metric,count,value), "
            "relative to the scenario file: the rolling windows reach back into it"
        ),
    )

    @field_validator("require")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        from peakdesk.rules.registry import canonical
        from peakdesk.rules.targets import parse_target

        for k, text in enumerate(value):
            try:
                target = parse_target(text)
                canonical(target.platform)
            except (ValueError, KeyError) as exc:
                raise FieldProblem(f"[{k}]", error_text(exc)) from None
            if target.client is not None:
                # A centre compiles its clients' targets with their scope itself.
                raise FieldProblem(
                    f"[{k}]",
                    f"{text!r} names a client; only a centre file has clients (write the "
                    "target without '[...]', or put it under the client in a centre file)",
                )
        return value


class PlanSettings(_Model):
    """How ``peakdesk plan`` searches."""

    replications: int = Field(
        default=3,
        ge=1,
        le=MAX_REPLICATIONS,
        description="replications per refinement iteration at first (doubled, up to 16x, "
        "while the iterations stall at the noise of a few runs)",
    )
    verify_replications: int = Field(
        default=12,
        ge=2,
        le=MAX_REPLICATIONS,
        description="replications per verification batch of a plan, on fresh seeds",
    )
    max_verify_replications: int | None = Field(
        default=None,
        ge=2,
        le=MAX_REPLICATIONS,
        description="most verification replications of one plan (default: 120, or one batch "
        "if larger); batches stop earlier when the bound decides",
    )
    bound: Literal["clopper_pearson", "wilson"] = Field(
        default="clopper_pearson",
        description="confidence bound on P(all targets met) a plan is accepted on",
    )
    bound_level: float = Field(
        default=0.95,
        gt=0.0,
        lt=1.0,
        description="one-sided level of that bound (0.95: accepted plans clear "
        "targets.confidence with 95% confidence)",
    )
    holdout_replications: int = Field(
        default=100,
        ge=0,
        le=MAX_REPLICATIONS,
        description="runs of the accepted plan on seeds the search never used (0: no check)",
    )
    max_iterations: int = Field(
        default=20,
        ge=1,
        le=100,
        description="most requirement refinement iterations (it stops when converged)",
    )
    isa_tolerance: int = Field(
        default=1,
        ge=0,
        le=1000,
        description="refinement converged when no interval's requirement moves by more, agents",
    )
    max_rounds: int = Field(
        default=5, ge=1, le=100, description="verify-and-raise rounds before giving up"
    )
    trim_step: float = Field(
        default=0.03,
        ge=0.0,
        le=0.5,
        description="after a plan is accepted, try its requirement scaled down by this "
        "step, again while the smaller plan is still accepted (0: no trimming)",
    )
    delay_probability: Probability | None = Field(
        default=None,
        description="starting P(all slots busy) per interval (default: from the targets)",
    )
    milp_time_limit: PositiveDuration = Field(default=60.0, description="shift-cover solve limit")
    milp_gap: float = Field(
        default=1e-2,
        gt=0.0,
        lt=1.0,
        description="relative optimality gap at which the shift cover stops (1%: below the "
        "forecast error; the cost is proven within it, in about a second instead of minutes)",
    )

    @property
    def verify_cap(self) -> int:
        """Most verification replications of one plan."""
        if self.max_verify_replications is None:
            return max(120, self.verify_replications)
        return self.max_verify_replications

    @model_validator(mode="after")
    def _verify_cap(self) -> PlanSettings:
        if self.bound == "wilson" and self.bound_level <= 0.5:
            raise FieldProblem(
                "bound_level",
                f"{self.bound_level:g} with bound = 'wilson': the Wilson bound needs a level "
                "above 0.5 (use clopper_pearson for any level in (0, 1))",
            )
        cap = self.max_verify_replications
        if cap is not None and cap < self.verify_replications:
            raise FieldProblem(
                "max_verify_replications",
                f"{cap} is below verify_replications = "
                f"{self.verify_replications} (one batch); give at least that many",
            )
        if self.replications * REFINEMENT_GROWTH * self.max_iterations > REFINEMENT_SEEDS:
            # Each refinement iteration runs fresh replication numbers, up to
            # REFINEMENT_GROWTH x replications once it stalls; they must stay below the
            # verification's (peakdesk.plan.search.VERIFY_OFFSET).
            raise FieldProblem(
                "replications",
                f"{self.replications} x {REFINEMENT_GROWTH} x max_iterations "
                f"{self.max_iterations} = "
                f"{self.replications * REFINEMENT_GROWTH * self.max_iterations:,} refinement "
                f"runs at most; the limit is {REFINEMENT_SEEDS:,} (lower either)",
            )
        return self


def _one_group_per_type(path: str, groups: list[list[str]], types: list[str]) -> None:
    """Each group's ``types`` name inquiry types, and no type is in two groups."""
    seen: dict[str, int] = {}
    for g, names in enumerate(groups):
        for j, name in enumerate(names):
            where = f"{path}[{g}].types[{j}]"
            if name not in types:
                raise FieldProblem(where, f"no inquiry type {name!r}; types: {types}")
            if name in seen:
                raise FieldProblem(where, f"{name!r} is already in {path}[{seen[name]}]")
            seen[name] = g


class Scenario(_Model):
    """A whole scenario file."""

    scenario: Meta
    calendar: Calendar
    demand: Demand
    inquiry_types: list[InquiryType] = Field(min_length=1, max_length=MAX_ITEMS)
    pools: list[Pool] = Field(min_length=1, max_length=MAX_ITEMS)
    subaccounts: SubAccounts
    routing: Routing = Field(default_factory=Routing)
    simulation: Simulation = Field(default_factory=Simulation)
    targets: Targets = Field(default_factory=Targets)
    plan: PlanSettings = Field(default_factory=PlanSettings)
    rules: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "per platform: 'preset' (a market variant) and rule options, e.g. "
            "[rules.taobao] window_end_s = 86400; the timezone defaults to the calendar's"
        ),
    )

    def _warm_up_fits(self) -> None:
        """A warm-up runs the scenario's own demand before the start: only where it can."""
        w = self.simulation.warm_up
        if w is None:
            return
        step = self.calendar.interval
        if abs(w / step - round(w / step)) > 1e-9:
            raise FieldProblem(
                "simulation.warm_up",
                f"{format_duration(w)} is not a whole number of reporting intervals "
                f"({format_duration(step)}): the intervals after the cut would not be the "
                "scenario's",
            )
        dem = self.demand
        if dem.total is not None or dem.business is not None:
            raise FieldProblem(
                "simulation.warm_up",
                "with demand.total (or [demand.business]) the volume is spread over the "
                "horizon and the warm-up would take its share: give demand.volume_per_day",
            )

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        self._warm_up_fits()
        names = [t.name for t in self.inquiry_types]
        if len(set(names)) != len(names):
            dup = next(k for k, n in enumerate(names) if names.index(n) != k)
            raise FieldProblem(
                f"inquiry_types[{dup}].name", f"inquiry type names must be unique, got {names}"
            )
        pools = [p.name for p in self.pools]
        if len(set(pools)) != len(pools):
            dup = next(k for k, n in enumerate(pools) if pools.index(n) != k)
            raise FieldProblem(f"pools[{dup}].name", f"pool names must be unique, got {pools}")
        if self.routing.queue_order == "deadline":
            for k, t in enumerate(self.inquiry_types):
                if t.reply_deadline is None:
                    raise FieldProblem(
                        f"inquiry_types[{k}].reply_deadline",
                        "routing.queue_order = 'deadline' needs every type's reply deadline "
                        "(the reply time its platform counts, e.g. '3min')",
                    )
        types = [t.name for t in self.inquiry_types]
        if self.routing.risk_groups and self.routing.queue_order != "at_risk":
            raise FieldProblem(
                "routing.risk_groups",
                f"only with queue_order = 'at_risk' (it is {self.routing.queue_order!r})",
            )
        if self.routing.queue_order == "at_risk" and not self.routing.risk_groups:
            raise FieldProblem(
                "routing.risk_groups",
                "queue_order = 'at_risk' needs the groups whose running score it protects "
                "([[routing.risk_groups]] name, types, reply_deadline, bound; a centre "
                "file compiles one per client)",
            )
        # A type is in one risk group at most (its client's score), and takes one shop's
        # seat at most (the engine keeps one group per type).
        _one_group_per_type(
            "routing.risk_groups", [g.types for g in self.routing.risk_groups], types
        )
        for g, group in enumerate(self.subaccounts.groups):
            for j, name in enumerate(group.pools):
                if name not in pools:
                    raise FieldProblem(
                        f"subaccounts.groups[{g}].pools[{j}]",
                        f"no pool {name!r}; pools: {pools}",
                    )
        _one_group_per_type("subaccounts.groups", [g.types for g in self.subaccounts.groups], types)
        kinds = {isinstance(t.share, PhaseShare) for t in self.inquiry_types}
        if len(kinds) > 1:
            raise FieldProblem(
                "inquiry_types[*].share",
                "give every inquiry type's share as a number, or every one by phase",
            )
        if self.demand.profile != "csv":
            for phase in ("before", "on", "after"):
                total = sum(_share(t, phase) for t in self.inquiry_types)
                if total <= 0:
                    raise FieldProblem(
                        "inquiry_types[*].share",
                        f"shares {phase} the peak sum to {total:g}; they must sum to > 0",
                    )
        skills = {s for p in self.pools for s in p.skills}
        for k, t in enumerate(self.inquiry_types):
            if t.skill_name not in skills:
                raise FieldProblem(
                    f"inquiry_types[{k}].skill",
                    f"needs skill {t.skill_name!r} (default: the type name), which no pool "
                    f"has; pool skills: {sorted(skills)}",
                )
        self._replies_within_reason()
        for platform, options in self.rules.items():
            from peakdesk.rules.registry import canonical, make_rule

            try:
                canonical(platform)
                opts = rule_options(options)
                make_rule(platform, opts.pop("preset", "default"), **opts)
            except (KeyError, ValueError, TypeError) as exc:
                raise FieldProblem(f"rules.{platform}", error_text(exc)) from None
        if self.routing.pool_order is not None:
            unknown = set(self.routing.pool_order) - set(pools)
            if unknown:
                raise FieldProblem(
                    "routing.pool_order", f"unknown pools {sorted(unknown)}; pools: {pools}"
                )
        return self

    def _replies_within_reason(self) -> None:
        """A mean reply at any pool within :data:`MAX_REPLY_HORIZONS` horizons.

        ``speed = 1e-9`` passes every field's own check, but each reply would take
        centuries: agents draining their chats would run the simulation (and its
        reporting grid) for that long.
        """
        horizon = self.calendar.horizon
        for k, pool in enumerate(self.pools):
            mults = pool.compose_multiplier_by_concurrency or [
                1.0 + pool.slowdown_per_extra_chat * (pool.max_concurrency - 1)
            ]
            mult = max(mults)
            mult_field = (
                "compose_multiplier_by_concurrency"
                if pool.compose_multiplier_by_concurrency is not None
                else "slowdown_per_extra_chat"
            )
            for j, t in enumerate(self.inquiry_types):
                prof = pool.skills.get(t.skill_name)
                if prof is None:
                    continue
                compose = dist_mean_s(t.compose_time)
                reply = compose * mult / (pool.speed * prof)
                limit = MAX_REPLY_HORIZONS * horizon
                if reply <= limit:
                    continue
                # Name the factor furthest from a usual value, with the bound that would do.
                options = {
                    f"pools[{k}].speed": (
                        1.0 / pool.speed,
                        f">= {compose * mult / (prof * limit):.3g}",
                    ),
                    f"pools[{k}].skills.{t.skill_name}": (
                        1.0 / prof,
                        f">= {compose * mult / (pool.speed * limit):.3g}",
                    ),
                    f"pools[{k}].{mult_field}": (
                        mult,
                        f"giving a multiplier <= {limit * pool.speed * prof / compose:.3g}",
                    ),
                    f"inquiry_types[{j}].compose_time": (
                        compose / 60.0,
                        f"a mean <= {format_duration(limit * pool.speed * prof / mult)}",
                    ),
                }
                field = max(options, key=lambda f: options[f][0])
                raise FieldProblem(
                    field,
                    f"a reply to {t.name!r} at pool {pool.name!r} takes "
                    f"~{format_long_duration(reply)} on average (compose_time mean "
                    f"{format_duration(compose)} x{mult:g} at full concurrency / (speed "
                    f"{pool.speed:g} x proficiency {prof:g})), over {MAX_REPLY_HORIZONS:g} "
                    f"times the horizon ({format_duration(horizon)}); allowed: {field} "
                    f"{options[field][1]}",
                )


def dist_mean_s(d: Fixed | Exponential | LogNormal | GammaDist | Uniform) -> float:
    """Mean of a duration distribution, seconds."""
    if isinstance(d, Fixed):
        return d.value
    if isinstance(d, Uniform):
        return (d.low + d.high) / 2.0
    return d.mean


def _share(t: InquiryType, phase: str) -> float:
    if isinstance(t.share, PhaseShare):
        return float(getattr(t.share, phase))
    return float(t.share)


def type_share(t: InquiryType, phase: Literal["before", "on", "after"]) -> float:
    """An inquiry type's (unnormalised) share in a phase of the event."""
    return _share(t, phase)


def rule_options(options: dict[str, Any]) -> dict[str, Any]:
    """Rule options from a scenario's ``[rules.<platform>]`` table, in the rule's types.

    Durations may be written with a unit (``response_s = "3min"``); lists become tuples.
    """
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key == "timezone" and isinstance(value, str):
            zone_info(value)  # a ValueError naming the zone, not an OSError when scoring
        if isinstance(value, str) and key.endswith("_s"):
            out[key] = parse_duration_s(value)
        elif isinstance(value, list):
            out[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        else:
            out[key] = value
    return out
