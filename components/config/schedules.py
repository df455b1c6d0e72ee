"""Schedules as Databricks evaluates them: a Quartz cron expression and a Java time zone id.

SQL alerts (`AlertV2.schedule.quartz_cron_schedule`) and Lakehouse monitors
(`QualityMonitor.schedule.quartz_cron_expression`) take Quartz's syntax, not Unix cron: six or seven fields
(seconds, minutes, hours, day of month, month, day of week, optional year), and exactly one of the two day
fields is `?`. A Unix cron line (`*/5 * * * *`) is refused here with the Quartz form to write instead,
before Databricks refuses it at `pulumi up`.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    """Names Quartz accepts for the values low, low + 1, ... (`JAN`, `SUN`)."""
    specials: str = ""
    """Characters beyond `* , - /` this field takes (`?`, `L`, `W`, `#`)."""


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELDS = (
    _Field("seconds", 0, 59),
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day of month", 1, 31, specials="?LW"),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 1, 7, _DAYS, specials="?L#"),
    _Field("year", 1970, 2099),
)
_VALUE = r"[0-9]+|[A-Za-z]{3}"
_ITEM = re.compile(rf"^(?:\*|(?P<start>{_VALUE})(?:-(?P<end>{_VALUE}))?)(?:/(?P<step>[0-9]+))?$")
_DAY_OF_MONTH_SPECIAL = re.compile(r"^(?:L(?:-[0-9]+)?|LW|[0-9]+W)$")
_DAY_OF_WEEK_SPECIAL = re.compile(rf"^(?:(?:{_VALUE})L|(?:{_VALUE})#[1-5]|L)$")

EVERY_FIVE_MINUTES = "0 0/5 * * * ?"
DAILY_AT_THREE = "0 0 3 * * ?"


def _number(text: str, field: _Field) -> int | None:
    if text.isdigit():
        return int(text)
    upper = text.upper()
    return field.low + field.names.index(upper) if upper in field.names else None


def _item_problem(item: str, field: _Field) -> str | None:
    if item == "?":
        return None if "?" in field.specials else f"`?` is only for day of month or day of week, not {field.name}"
    if field.name == "day of month" and _DAY_OF_MONTH_SPECIAL.match(item.upper()):
        return None
    if field.name == "day of week" and _DAY_OF_WEEK_SPECIAL.match(item.upper()):
        return None
    match = _ITEM.match(item)
    if match is None:
        return f"`{item}` is not a value, range (`a-b`), list (`a,b`) or step (`a/n`) of {field.name}"
    for part in (match["start"], match["end"]):
        if part is None:
            continue
        value = _number(part, field)
        if value is None or not field.low <= value <= field.high:
            return f"`{part}` is out of range for {field.name} ({field.low}-{field.high})"
    step = match["step"]
    if step is not None and int(step) == 0:
        return f"a step of 0 in `{item}` never fires"
    return None


def quartz_cron_problem(expression: str) -> str | None:
    """What is wrong with a Quartz cron expression, or None when Quartz reads it."""
    fields = expression.split()
    if len(fields) == 5:
        return (
            "is a Unix cron line (5 fields); Databricks takes Quartz syntax: seconds first and `?` for one of the "
            f"day fields, e.g. `{EVERY_FIVE_MINUTES}` for every five minutes"
        )
    if len(fields) not in (6, 7):
        return (
            f"needs 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), found "
            f"{len(fields)}; e.g. `{EVERY_FIVE_MINUTES}`"
        )
    for text, field in zip(fields, _FIELDS, strict=False):
        for item in text.split(","):
            problem = _item_problem(item, field)
            if problem:
                return problem
    if (fields[3] == "?") == (fields[5] == "?"):
        return "exactly one of day of month (field 4) and day of week (field 6) must be `?`"
    return None


def time_zone_problem(zone: str) -> str | None:
    """What is wrong with a time zone id, or None: a Java time zone id is an IANA name (`Europe/Berlin`, `UTC`)."""
    if zone in zoneinfo.available_timezones():
        return None
    return "is not a time zone id; write an IANA name such as `UTC` or `Europe/Berlin`"
