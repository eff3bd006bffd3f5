"""Cursor pagination for the lists: stable under concurrent writes, opaque to clients.

A list is sorted by a key (e.g. a unit's id; an incident's priority, opening time and id);
the cursor is that key of the last item of a page, base64url-encoded JSON. The next page holds
the items whose key sorts after it, so an item added or removed meanwhile never shifts a page
(no item is skipped or repeated because of another's arrival).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, TypeVar

from fastapi import Query

from planner.errors import InputError

T = TypeVar("T")
SortKey = tuple[str | int, ...]

MAX_LIMIT = 1000
DEFAULT_LIMIT = 200

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (at most 1000).")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=400,
        pattern=r"^[A-Za-z0-9_-]+={0,2}$",
        description="``next_cursor`` of the previous page; omit for the first page.",
    ),
]


def encode_cursor(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def decode_cursor(cursor: str) -> SortKey:
    """The sort key a cursor carries; 422 naming ``cursor`` if it is not one of ours."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InputError("not a cursor this server issued", field="cursor") from None
    if not isinstance(raw, list) or not all(
        isinstance(p, str | int) and not isinstance(p, bool) for p in raw
    ):
        raise InputError("not a cursor this server issued", field="cursor")
    return tuple(raw)


def paginate(
    items: Iterable[T], key: Callable[[T], SortKey], *, cursor: str | None, limit: int
) -> tuple[Sequence[T], str | None]:
    """One page of ``items`` in ``key`` order after ``cursor``, and the next page's cursor
    (None on the last page)."""
    ordered = sorted(items, key=key)
    if cursor is not None:
        after = decode_cursor(cursor)
        try:
            ordered = [i for i in ordered if key(i) > after]
        except TypeError:
            raise InputError("not a cursor for this list", field="cursor") from None
    page = ordered[:limit]
    more = len(ordered) > limit
    return page, encode_cursor(key(page[-1])) if more and page else None
