"""Finding incidents by what a dispatcher remembers: words of the id, code or label, or of
the address (personal data, so that search goes through the log's recorded reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planner.log.incident_log import IncidentLog

ADDRESS_KINDS = frozenset({"incident_opened", "incident_updated"})
"""Entries whose personal part holds an incident's address (and METHANE exact location)."""


def words(text: str) -> list[str]:
    """The lower-case words of a search (whitespace-separated)."""
    return text.casefold().split()


def matches_words(query: str, *texts: str | None) -> bool:
    """Whether every word of ``query`` occurs in one of ``texts``, case-insensitive and in
    any order ("cardiac arrest" finds CARDIAC_ARREST, "market st" finds 12 Market Street)."""
    haystack = " ".join(t for t in texts if t).casefold()
    return all(w in haystack for w in words(query))


def address_of(personal: Mapping[str, Any]) -> str | None:
    """The address an entry's personal part gives: ``address``, else METHANE's exact
    location."""
    address = personal.get("address")
    if isinstance(address, str) and address.strip():
        return address
    methane = personal.get("methane")
    exact = methane.get("exact_location") if isinstance(methane, Mapping) else None
    return exact if isinstance(exact, str) and exact.strip() else None


def incidents_at_address(log: IncidentLog, query: str) -> dict[str, int]:
    """Incident id → seq of its latest entry whose address has every word of ``query``. The
    addresses themselves are not returned: show one by reading that entry's personal data
    (:meth:`IncidentLog.read_personal`, which records the read)."""

    def match(personal: Mapping[str, Any]) -> bool:
        address = address_of(personal)
        return address is not None and matches_words(query, address)

    found: dict[str, int] = {}
    for seq, incident in log.match_personal(kinds=ADDRESS_KINDS, match=match):
        if incident is not None:
            found[incident] = seq
    return found
