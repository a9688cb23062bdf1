"""A centre file compiled into one scenario the engine, the rules and the planner run.

Every client's inquiry types become types of the compiled scenario named
``<client>-<type>`` (skill ``<client>-<skill>``, the client's queue priority if
it sets one); the team's pools serve them, a pool's skill for a client standing
for all of that client's skills.  Each client's demand is built exactly as its
own scenario builds it, in its own clock, and laid on the team's timeline by
absolute time (bins of the greatest common divisor of the clients' bins and
offsets, so nothing is resampled); each client keeps its own daily volume
uncertainty on its own local days.  Each client's targets are scoped to it
(``[client] metric >= value``) and scored on its conversations only, with its
platform's rule on its clock, its ``[rules]`` options, holidays and history.

A centre of one client whose calendar is the team's therefore draws exactly the
buyers its scenario draws, and scores them the same way.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from peakdesk.centre.schema import Centre, CentrePool, Client
from peakdesk.demand.sample import intensity
from peakdesk.experiment.targets import scenario_history
from peakdesk.rules.targets import parse_target
from peakdesk.scenario.centre_info import CentreInfo, ClientInfo, DayGroup
from peakdesk.scenario.load import (
    LoadedScenario,
    ScenarioError,
    load_scenario,
    parse_model,
    read_toml,
)
from peakdesk.scenario.schema import (
    MAX_SUBACCOUNTS,
    Demand,
    FieldProblem,
    Meta,
    Pool,
    RiskGroup,
    Routing,
    Scenario,
    SeatGroup,
    SubAccounts,
    Targets,
)
from peakdesk.units import zone_info

#: Joins a client's name and its type's or skill's name in the compiled scenario.
SEP = "-"


def is_centre(data: dict[str, Any]) -> bool:
    """Whether parsed TOML is a centre file (it has a ``[centre]`` table)."""
    return isinstance(data.get("centre"), dict)


def load_centre(path: Path | str) -> LoadedScenario:
    """Read, validate and compile a centre file.

    Raises
    ------
    ScenarioError
        Naming the field (``clients[1].seat_limit``) and what is allowed.
    """
    p = Path(path)
    return centre_from_data(read_toml(p), p)


def centre_from_data(data: dict[str, Any], path: Path | str) -> LoadedScenario:
    """Validate and compile a centre mapping read from ``path`` (see the module docstring)."""
    p = Path(path).resolve()
    centre = parse_model(Centre, data, p)
    assert isinstance(centre, Centre)
    shops = [_client_demand(_client_scenario(c, k, p), c) for k, c in enumerate(centre.clients)]
    try:
        return _compile(centre, shops, p)
    except FieldProblem as exc:
        raise ScenarioError(p, [f"{exc.rel}: {exc}"]) from None
    except ValidationError as exc:
        # A check of the compiled scenario: name the client's field, not the compiled one.
        where = [(k, j) for k, s in enumerate(shops) for j in range(len(s.spec.inquiry_types))]
        problems = []
        for e in exc.errors():
            cause = (e.get("ctx") or {}).get("error")
            rel = cause.rel if isinstance(cause, FieldProblem) else ""
            m = re.match(r"inquiry_types\[(\d+)\](.*)", rel)
            if m and int(m[1]) < len(where):
                k, j = where[int(m[1])]
                rel = f"clients[{k}].inquiry_types[{j}]{m[2]}"
            problems.append(f"{rel or '(centre)'}: {cause if cause is not None else e['msg']}")
        raise ScenarioError(p, problems) from None


def _client_demand(shop: LoadedScenario, client: Client) -> LoadedScenario:
    """The shop with the contract's ``demand_multiplier`` and ``daily_cv`` applied."""
    if client.demand_multiplier == 1.0 and client.daily_cv is None:
        return shop
    dem = shop.spec.demand
    update: dict[str, Any] = {"multiplier": dem.multiplier * client.demand_multiplier}
    if client.daily_cv is not None:
        update["daily_cv"] = client.daily_cv
    return shop.with_spec(shop.spec.model_copy(update={"demand": dem.model_copy(update=update)}))


def _client_scenario(client: Client, k: int, centre_path: Path) -> LoadedScenario:
    """The client's shop as a scenario of its own (its file, or its inline sections)."""
    if client.scenario is not None:
        f = Path(client.scenario)
        f = f if f.is_absolute() else centre_path.parent / f
        if not f.is_file():
            raise ScenarioError(
                centre_path,
                [
                    f"clients[{k}].scenario = {client.scenario!r}: no such file (relative "
                    "paths are read from the centre file's folder)"
                ],
            )
        try:
            shop = load_scenario(f)
        except ScenarioError as exc:
            raise ScenarioError(
                centre_path,
                [f"clients[{k}].scenario ({f.name}): {q}" for q in exc.problems],
                what="invalid client scenario",
            ) from None
        if client.targets is None:
            return shop
        # The contract's targets; a history file is named from the centre file's folder.
        targets = client.targets
        if targets.history is not None:
            h = Path(targets.history)
            h = h if h.is_absolute() else centre_path.parent / h
            if not h.is_file():
                raise ScenarioError(
                    centre_path,
                    [f"clients[{k}].targets.history = {targets.history!r}: no such file"],
                )
            targets = targets.model_copy(update={"history": str(h)})
        return shop.with_spec(shop.spec.model_copy(update={"targets": targets}))
    assert client.calendar is not None and client.demand is not None
    assert client.inquiry_types is not None
    skills = {t.skill_name: 1.0 for t in client.inquiry_types}
    # The shop's own pools do not matter (the team serves it); one stands in so the
    # sections validate together exactly as a scenario's do.
    stand_in = Pool.model_validate(
        {
            "name": "shop",
            "skills": skills,
            "shifts": [{"start": "00:00", "length": "1h", "agents": 1}],
        }
    )
    try:
        spec = Scenario(
            scenario=Meta(name=client.name),
            calendar=client.calendar,
            demand=client.demand,
            inquiry_types=client.inquiry_types,
            pools=[stand_in],
            subaccounts=client.subaccounts or SubAccounts(count=MAX_SUBACCOUNTS),
            targets=client.targets or Targets(),
            rules=client.rules or {},
        )
    except ValidationError as exc:
        problems = [f"clients[{k}]: {e['msg']}" for e in exc.errors()]
        raise ScenarioError(centre_path, problems) from None
    loaded = LoadedScenario(spec=spec, path=centre_path)
    for field, name in (
        ("targets.history", spec.targets.history),
        ("demand.forecast", spec.demand.forecast),
        ("demand.day_volumes", spec.demand.day_volumes),
    ):
        if name is not None and not loaded.resolve(name).is_file():
            raise ScenarioError(centre_path, [f"clients[{k}].{field} = {name!r}: no such file"])
    return loaded


def _compile(centre: Centre, shops: list[LoadedScenario], path: Path) -> LoadedScenario:
    cal = centre.calendar
    t0 = cal.start_aware.timestamp()
    types = []
    clients = []
    skills_of: dict[str, set[str]] = {}
    row = 0
    for k, (client, shop) in enumerate(zip(centre.clients, shops, strict=True)):
        spec = shop.spec
        idx = []
        for t in spec.inquiry_types:
            name = f"{client.name}{SEP}{t.name}"
            if len(name) > 64:
                raise FieldProblem(
                    f"clients[{k}].name", f"{name!r} (client-type) is over 64 characters"
                )
            update: dict[str, Any] = {"name": name, "skill": f"{client.name}{SEP}{t.skill_name}"}
            if client.priority is not None:
                update["priority"] = client.priority
            if client.reply_deadline is not None and t.reply_deadline is None:
                update["reply_deadline"] = client.reply_deadline
            types.append(t.model_copy(update=update))
            idx.append(row)
            row += 1
        skills_of[client.name] = {t.skill_name for t in spec.inquiry_types}
        for j, text in enumerate(spec.targets.require):
            if text.lstrip().startswith("["):
                raise FieldProblem(
                    f"clients[{k}].targets.require[{j}]",
                    f"{text!r}: a client's target is its own; write it without '[...]'",
                )
        clients.append(
            ClientInfo(
                name=client.name,
                types=tuple(idx),
                timezone=spec.calendar.timezone,
                rules=dict(spec.rules),
                holidays=tuple(spec.calendar.holidays),
                history=scenario_history(shop),
                targets=tuple(spec.targets.require),
                seat_limit=client.seat_limit
                if client.seat_limit is not None
                else spec.subaccounts.platform_cap,
                language=client.language,
                price_per_conversation=client.price_per_conversation,
                price_per_hour=client.price_per_hour,
                hours_billed=client.hours_billed,
                seat_rule=client.seat_rule,
                monthly_fee=client.monthly_fee,
                penalty_per_missed_target=client.penalty_per_missed_target,
            )
        )
    pools = [_team_pool(p, k, centre, skills_of) for k, p in enumerate(centre.pools)]
    compiled = {c: {f"{c}{SEP}{s}" for s in skills} for c, skills in skills_of.items()}
    served = {s for p in pools for s in p.skills}
    for k, (client, shop) in enumerate(zip(centre.clients, shops, strict=True)):
        for j, t in enumerate(shop.spec.inquiry_types):
            if f"{client.name}{SEP}{t.skill_name}" not in served:
                raise FieldProblem(
                    f"clients[{k}].inquiry_types[{j}]",
                    f"{t.name!r} needs skill {t.skill_name!r} of client {client.name!r}, which "
                    f"no pool has; give a pool `skills.{client.name}` or "
                    f"`skills.{client.name}{SEP}{t.skill_name}`",
                )
    bin_s, expected, groups = _demand(centre, shops, t0)
    # The demand is the clients' own (each shop's shares by its own phases); the compiled
    # types' shares say only what they are of the centre's, so one client's shares by
    # phase and another's as numbers stand together.
    total = float(expected.sum())
    types = [
        t.model_copy(update={"share": float(expected[r].sum()) / total if total > 0 else 1.0})
        for r, t in enumerate(types)
    ]
    confidence = centre.targets.confidence
    if confidence is None:
        confidence = max(s.spec.targets.confidence for s in shops)
    spec = Scenario(
        scenario=Meta(
            name=centre.centre.name,
            description=centre.centre.description,
            currency=centre.centre.currency,
        ),
        calendar=cal,
        # The demand is the clients' (CentreInfo); this stands in for the schema and
        # carries the multiplier that `plan --margin` and `quote` scale.
        demand=Demand(profile="flat", volume_per_day=1.0),
        inquiry_types=types,
        pools=pools,
        subaccounts=SubAccounts(
            count=centre.seats.count or MAX_SUBACCOUNTS,
            # Each client's shop: the agents of its pools online log into it.
            groups=[
                SeatGroup(
                    name=f"client {c.name!r}",
                    pools=[p.name for p in pools if _serves(p, compiled[c.name])],
                    count=c.seat_limit,
                    # While holding: the client's chats take its seats, not the login.
                    **(
                        {"taken": "holding", "types": [types[t].name for t in c.types]}
                        if c.seat_rule == "while_holding"
                        else {}
                    ),
                )
                for c in clients
                if c.seat_limit is not None and any(_serves(p, compiled[c.name]) for p in pools)
            ],
        ),
        routing=_risk_routing(centre, clients, types),
        simulation=centre.simulation,
        # Built as it is: each target was validated in its client's scenario, and a
        # scenario refuses a client scope the centre's compiled targets carry.
        targets=Targets.model_construct(
            confidence=confidence,
            require=[f"[{c.name}] {t}" for c in clients for t in c.targets],
            history=None,
        ),
        plan=centre.plan,
    )
    clients = [
        dataclasses.replace(
            c,
            pools=tuple(j for j, pl in enumerate(pools) if _serves(pl, compiled[c.name])),
        )
        for c in clients
    ]
    info = CentreInfo(
        name=centre.centre.name,
        clients=tuple(clients),
        bin_s=bin_s,
        expected=expected,
        day_groups=groups,
    )
    _check_seats(centre, info, spec)
    return LoadedScenario(spec=spec, path=path, centre=info)


def _risk_routing(centre: Centre, clients: list[ClientInfo], types: list[Any]) -> Routing:
    """The team's routing; with ``queue_order = "at_risk"``, one risk group per client: its
    types, its ``reply_deadline`` and the bound of its first share target."""
    routing = centre.routing
    if routing.queue_order != "at_risk" or routing.risk_groups:
        return routing
    groups = []
    for k, (client, c) in enumerate(zip(centre.clients, clients, strict=True)):
        if client.reply_deadline is None:
            raise FieldProblem(
                f"clients[{k}].reply_deadline",
                "routing.queue_order = 'at_risk' needs each client's reply deadline (the "
                "reply time its platform counts: Taobao '3min', Shopee '12h')",
            )
        shares = [t for t in map(parse_target, c.targets) if t.op == ">=" and 0.0 < t.value < 1.0]
        if not shares:
            raise FieldProblem(
                f"clients[{k}].targets",
                "routing.queue_order = 'at_risk' protects each client's first share target "
                f"(e.g. 'taobao.response_3min >= 0.9'); {client.name!r} has none",
            )
        # The target whose reply time is the client's deadline (the engine's score counts
        # replies within it); a share target of another fixed reply time is refused.
        timed = [(t, _reply_time(t)) for t in shares]
        same = [t for t, s in timed if s is not None and abs(s - client.reply_deadline) < 1e-6]
        other = [(t, s) for t, s in timed if s is not None and t not in same]
        if not same and other:
            t, s = other[0]
            raise FieldProblem(
                f"clients[{k}].reply_deadline",
                f"{client.reply_deadline:g} s, but its target {t.text!r} counts replies "
                f"within {s:g} s: routing.queue_order = 'at_risk' scores the client on its "
                "reply deadline, so give the target's",
            )
        target = same[0] if same else shares[0]
        groups.append(
            RiskGroup(
                name=f"client {client.name!r}",
                types=[types[t].name for t in c.types],
                # (validated seconds, written back with their unit for the duration field)
                reply_deadline=f"{client.reply_deadline!r}s",
                bound=target.value,
                timezone=c.timezone,
            )
        )
    return routing.model_copy(update={"risk_groups": groups})


#: Share metrics whose reply time is fixed by their platform, seconds.
_REPLY_TIME_S = {
    "taobao.response_3min": 180.0,
    "jd.response_30s": 30.0,
    "shopee.crr": 12 * 3600.0,
}


def _reply_time(target: Any) -> float | None:
    """The reply time a share target counts within, seconds (None: not a fixed one)."""
    options = dict(target.rule_options)
    if "service_level_s" in options:
        return float(options["service_level_s"])
    return _REPLY_TIME_S.get(target.metric)


def _serves(pool: Pool, skills: set[str]) -> bool:
    """Whether a compiled pool has one of a client's compiled skills (``client-skill``).

    By the set, not by prefix: clients ``tb`` and ``tb-x`` are told apart.
    """
    return any(s in skills for s in pool.skills)


def _team_pool(pool: CentrePool, k: int, centre: Centre, skills_of: dict[str, set[str]]) -> Pool:
    """A team pool with its client skills spelled out as the compiled types' skills."""
    if pool.staffing is not None:
        raise FieldProblem(
            f"pools[{k}].staffing",
            "a centre's pools are staffed by shifts; a staffing table is read in a shop's "
            "scenario only (write the table's hours as [[pools.shifts]])",
        )
    out: dict[str, float] = {}
    names = list(skills_of)
    for key, prof in pool.skills.items():
        if key in skills_of:
            for s in sorted(skills_of[key]):
                out.setdefault(f"{key}{SEP}{s}", prof)
            continue
        client, _, skill = key.partition(SEP)
        while client not in skills_of and SEP in skill:
            # Client names may hold the separator: try the longer prefixes too.
            more, _, skill = skill.partition(SEP)
            client = f"{client}{SEP}{more}"
        if client not in skills_of or skill not in skills_of[client]:
            raise FieldProblem(
                f"pools[{k}].skills.{key}",
                f"names no client or client skill; allowed: a client {names} or "
                f"<client>{SEP}<skill>, e.g. "
                + ", ".join(f"{c}{SEP}{s}" for c in names for s in sorted(skills_of[c])[:2]),
            )
        out[key] = prof  # an explicit client-skill wins over the client-wide one
    for c in centre.clients:
        speaks = pool.languages
        if speaks and c.language is not None and c.language not in speaks:
            if any(f"{c.name}{SEP}{s}" in out for s in skills_of[c.name]):
                raise FieldProblem(
                    f"pools[{k}].skills.{c.name}",
                    f"client {c.name!r} writes {c.language!r}; pool {pool.name!r} writes "
                    f"{speaks}: give the pool the language or take the skill away",
                )
    # The validated fields as they are (durations already in seconds): a Pool with the
    # compiled skills, without re-reading the file's text.
    fields = {name: getattr(pool, name) for name in Pool.model_fields}
    fields["skills"] = out
    return Pool.model_construct(**fields)


def _gcd_s(values: list[float]) -> int:
    ints = []
    for v in values:
        r = round(v)
        if abs(v - r) > 1e-6:
            raise FieldProblem(
                "clients", f"demand bins and client start times must be whole seconds, got {v}"
            )
        ints.append(abs(r))
    g = 0
    for i in ints:
        g = math.gcd(g, i)
    return max(g, 1)


def _demand(
    centre: Centre, shops: list[LoadedScenario], t0: float
) -> tuple[float, Any, tuple[DayGroup, ...]]:
    """Each client's expected conversations per bin, on the team's timeline."""
    horizon = centre.calendar.horizon
    parts = []
    for shop in shops:
        inten = intensity(shop)
        offset = shop.spec.calendar.start_aware.timestamp() - t0
        parts.append((inten, offset, shop))
    bin_s = float(_gcd_s([p[0].bin_s for p in parts] + [p[1] for p in parts]))
    n = math.ceil(horizon / bin_s - 1e-9)
    rows = sum(p[0].expected.shape[0] for p in parts)
    expected = np.zeros((rows, n))
    groups = []
    row = 0
    starts = [dt.datetime.fromtimestamp(t0 + k * bin_s, tz=dt.UTC) for k in range(n)]
    for inten, offset, shop in parts:
        e = inten.expected
        r = round(inten.bin_s / bin_s)
        first = round(offset / bin_s)
        # Client bin k covers team bins first + k*r .. first + k*r + r - 1, each a
        # 1/r share (a piecewise-constant rate stays the same rate).
        for j in range(r):
            idx = first + np.arange(e.shape[1]) * r + j
            ok = (idx >= 0) & (idx < n)
            expected[row : row + e.shape[0], idx[ok]] += e[:, ok] / r
        zone = zone_info(shop.spec.calendar.timezone)
        days = np.array([s.astimezone(zone).date().toordinal() for s in starts])
        _, day = np.unique(days, return_inverse=True)
        groups.append(
            DayGroup(
                rows=tuple(range(row, row + e.shape[0])),
                cv=float(shop.spec.demand.daily_cv),
                day=np.asarray(day, dtype=np.int64),
            )
        )
        row += e.shape[0]
    return bin_s, expected, tuple(groups)


def _check_seats(centre: Centre, info: CentreInfo, spec: Scenario) -> None:
    """A client whose shop's seat limit is below the agents its pools put online at once."""
    from peakdesk.engine.setup import fixed_instances

    for k, (client, c) in enumerate(zip(centre.clients, info.clients, strict=True)):
        if c.seat_limit is None or c.seat_rule == "while_holding":
            continue  # (while holding, an agent on shift takes no seat until it takes a chat)
        serving = list(c.pools)
        if not serving:
            continue
        edges: list[tuple[float, int]] = []
        for inst in fixed_instances(spec):
            if inst.pool in serving:
                end = inst.start_s + inst.length_s
                edges += [(inst.start_s, inst.agents), (end, -inst.agents)]
        on, worst, when = 0, 0, 0.0
        for t, d in sorted(edges, key=lambda e: (e[0], e[1])):
            on += d
            if on > worst:
                worst, when = on, t
        if worst > c.seat_limit:
            at = centre.calendar.start_aware + dt.timedelta(seconds=when)
            names = [spec.pools[j].name for j in serving]
            raise FieldProblem(
                f"clients[{k}].seat_limit",
                f"{c.seat_limit} sub-accounts of {client.name!r} are below the {worst} agents "
                f"of pools {names} on shift at {at:%m-%d %H:%M}; each logs into the shop: "
                "raise the limit (its platform allows?) or route fewer agents to it",
            )
