"""Cursor pagination for the lists: stable under concurrent writes, readable by people.

A list is sorted by a key (a unit's id; a contact's receipt time and id; an incident's priority,
opening time and id); the cursor is that key of the last item of a page, its parts joined by
``~`` (times as integer microseconds since 1970). The next page holds the items whose key sorts
after it, so an item added or removed meanwhile never shifts a page. Every string matching a
list's documented cursor pattern is a valid cursor (it names a position, whether or not an item
is there), so the pattern is the whole contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BeforeValidator

from api.versions import etag, not_modified

T = TypeVar("T")
SortKey = tuple[str | int, ...]

MAX_LIMIT = 1000
DEFAULT_LIMIT = 200
SEP = "~"
_ID = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,79}"

UNIT_CURSOR = rf"^{_ID}$"
CONTACT_CURSOR = rf"^[0-9]{{1,19}}{SEP}{_ID}$"
INCIDENT_CURSOR = rf"^([0-9]{{1,2}}{SEP})?[0-9]{{1,19}}{SEP}{_ID}$"

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 1000).")]


def cursor_query(pattern: str) -> Any:
    """The ``cursor`` query parameter of a list whose cursors match ``pattern``."""
    return Query(
        max_length=120,
        pattern=pattern,
        description="``next_cursor`` of the previous page; omit for the first page.",
    )


def micros(when: datetime) -> int:
    """A time as integer microseconds since 1970 (a cursor part)."""
    return int(when.timestamp() * 1_000_000)


def encode_cursor(key: SortKey) -> str:
    return SEP.join(str(p) for p in key)


def decode_cursor(cursor: str) -> list[str | int]:
    """A cursor's parts: numbers first, the id last (the routes' patterns vouch for the form)."""
    *numbers, last = cursor.split(SEP)
    return [*(int(n) for n in numbers), last]


def paginate(
    items: Iterable[T],
    key: Callable[[T], SortKey],
    *,
    after: SortKey | None,
    limit: int,
    descending: bool = False,
) -> tuple[Sequence[T], str | None]:
    """One page of ``items`` in ``key`` order (highest first with ``descending``) after the
    key ``after``, and the next page's cursor (None on the last page)."""
    ordered = sorted(items, key=key, reverse=descending)
    if after is not None:
        ordered = [i for i in ordered if (key(i) < after if descending else key(i) > after)]
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, encode_cursor(key(page[-1])) if more and page else None


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _rfc3339_only(value: Any) -> Any:
    """Refuse what pydantic would read as a Unix time (``0.5``): filters take RFC 3339."""
    if isinstance(value, str) and not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with offset, e.g. 2026-03-01T08:00:00Z")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]
"""A filter time: RFC 3339 with an offset."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A list's ``from``/``to`` filter: at or after ``start``, before ``end`` (either open)."""

    start: datetime | None = None
    end: datetime | None = None

    def __contains__(self, when: datetime) -> bool:
        return (self.start is None or when >= self.start) and (self.end is None or when < self.end)


NO_WINDOW = TimeWindow()


def time_window(what: str) -> Callable[..., Coroutine[Any, Any, TimeWindow]]:
    """The dependency reading ``from`` and ``to`` for a list whose items are ``what`` (e.g.
    ``Received``) at a time."""

    after = Query(None, alias="from", description=f"{what} at or after (RFC 3339).")
    before = Query(None, alias="to", description=f"{what} before (RFC 3339).")

    async def window(start: Timestamp | None = after, end: Timestamp | None = before) -> TimeWindow:
        return TimeWindow(start, end)

    return window


def list_etag(request: Request, response: Response, version: int) -> Response | None:
    """A list's conditional GET: 304 if ``If-None-Match`` names ``version``, else None with the
    list's ``ETag`` (the state version) set on ``response``."""
    if (cached := not_modified(request, version)) is not None:
        return cached
    response.headers["ETag"] = etag(version)
    return None
