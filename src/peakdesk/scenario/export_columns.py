"""A column map: how an export's own columns, senders and times read as the import format.

Real exports do not use peakdesk's column names: Qianniu's chat records come
with Chinese headers (会话ID, 发送方, 时间, 客服), Lazada's and Shopee's with
day-first dates, some tools with epoch milliseconds.  A small TOML file says
how to read one, and ``score``, ``calibrate`` and ``backtest`` take it as
``--columns FILE``::

    [columns]                 # import name = the export's header
    conversation_id = "会话ID"
    sender = "发送方"
    timestamp = "时间"
    agent_id = "客服"

    [senders]                 # import sender = the export's values
    buyer = ["买家", "顾客"]
    agent = ["客服"]
    bot = ["机器人"]

    [timestamp]
    format = "%d/%m/%Y %H:%M:%S"   # or "iso" (default), "epoch_s", "epoch_ms"
    timezone = "Asia/Shanghai"     # for times written without a UTC offset

Columns of the export not named are ignored; a column left out of
``[columns]`` is looked for under its own import name.  Errors name this file
and the field, and exit 2.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from peakdesk.rules.csvlog import ExportColumns
from peakdesk.scenario.load import ScenarioError, parse_model, read_toml
from peakdesk.scenario.schema import FieldProblem, _Model
from peakdesk.units import zone_info

Header = Annotated[str, Field(min_length=1)]
#: Time formats that are not ``strptime`` patterns.
NAMED_FORMATS = ("iso", "epoch_s", "epoch_ms")


class _Columns(_Model):
    """Import-format column -> the export's header."""

    conversation_id: Header | None = None
    sender: Header | None = None
    timestamp: Header | None = None
    agent_id: Header | None = None
    ordered: Header | None = None
    leave_message: Header | None = None
    inquiry_type: Header | None = None

    @model_validator(mode="after")
    def _distinct(self) -> _Columns:
        seen: dict[str, str] = {}
        for name, header in self.model_dump(exclude_none=True).items():
            if header in seen:
                raise FieldProblem(
                    name, f"the export's column {header!r} is already mapped to {seen[header]}"
                )
            seen[header] = name
        return self


class _Senders(_Model):
    """Import sender -> the export's values for it."""

    buyer: list[Header] = Field(min_length=1)
    agent: list[Header] = Field(min_length=1)
    bot: list[Header] = Field(default_factory=list)
    auto: list[Header] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_sender_each(self) -> _Senders:
        seen: dict[str, str] = {}
        for name, values in self.model_dump().items():
            for k, v in enumerate(values):
                key = v.strip().lower()
                if key in seen:
                    raise FieldProblem(
                        f"{name}[{k}]", f"{v!r} already stands for the sender {seen[key]}"
                    )
                seen[key] = name
        return self


class _Time(_Model):
    """How the timestamp column is written."""

    format: str = Field(
        default="iso",
        description="iso, epoch_s, epoch_ms or a strptime pattern (%d/%m/%Y %H:%M:%S)",
    )
    timezone: str | None = Field(default=None, description="IANA zone of times with no offset")

    @model_validator(mode="after")
    def _readable(self) -> _Time:
        if self.format not in NAMED_FORMATS:
            if "%" not in self.format:
                raise FieldProblem(
                    "format",
                    f"{self.format!r} is neither one of {list(NAMED_FORMATS)} nor a strptime "
                    "pattern (e.g. '%d/%m/%Y %H:%M:%S' for 11/11/2026 20:00:05)",
                )
            if "%Z" in self.format:
                raise FieldProblem(
                    "format",
                    "%Z (a zone name such as CST or UTC) is read without its offset by Python: "
                    "use %z for an offset (+0800) or give the zone as timestamp.timezone",
                )
            sample = dt.datetime(2026, 11, 11, 20, 0, 5, tzinfo=dt.UTC)
            try:
                dt.datetime.strptime(sample.strftime(self.format), self.format)
            except ValueError as exc:
                raise FieldProblem("format", f"not a usable strptime pattern: {exc}") from None
            if "%z" not in self.format and self.timezone is None:
                raise FieldProblem(
                    "timezone",
                    "needed: the format has no %z, so the times carry no UTC offset "
                    "(give the shop's IANA zone, e.g. 'Asia/Shanghai')",
                )
        if self.timezone is not None:
            try:
                zone_info(self.timezone)
            except ValueError as exc:
                raise FieldProblem("timezone", str(exc)) from None
        return self


class ExportMap(_Model):
    """A column map file (module docstring)."""

    columns: _Columns = Field(default_factory=_Columns)
    senders: _Senders | None = None
    timestamp: _Time = Field(default_factory=_Time)


def read_export_columns(path: Path | str) -> ExportColumns:
    """Read and check a column map file.

    Parameters
    ----------
    path
        The TOML file.

    Raises
    ------
    ScenarioError
        The file cannot be read or does not fit (file, field path, what is allowed).
    """
    p = Path(path)
    try:
        spec = parse_model(ExportMap, read_toml(p), p)
    except ScenarioError as exc:
        raise ScenarioError(p, exc.problems, what="invalid column map") from None
    assert isinstance(spec, ExportMap)
    senders = {}
    if spec.senders is not None:
        for name, values in spec.senders.model_dump().items():
            senders.update({v: name for v in values})
    return ExportColumns(
        columns=spec.columns.model_dump(exclude_none=True),
        senders=senders,
        time_format=spec.timestamp.format,
        timezone=spec.timestamp.timezone,
        source=str(p),
    )
