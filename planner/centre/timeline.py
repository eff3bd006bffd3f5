"""An incident's timeline from the log, with the contacts (callers) that belong to it."""

from __future__ import annotations

from planner.log.incident_log import IncidentLog, LogEntry

CONTACT_REFERENCES = frozenset({"incident_opened", "contact_linked"})
"""Entry kinds that tie a contact to an incident (its ``contact_id``)."""


def incident_timeline(
    log: IncidentLog, incident_id: str, *, with_contacts: bool = False
) -> list[LogEntry]:
    """Every log entry of one incident, oldest first; with ``with_contacts`` also the
    ``contact_received`` entries of the contacts that opened or were linked to it, in log order.

    A contact is logged before it opens or joins an incident and carries no incident of its
    own, so it is found among the entries up to the last reference (seqs start at 1).
    """
    entries = log.entries(incident=incident_id)
    if not with_contacts:
        return entries
    referenced = {
        str(e.payload["contact_id"]): e.seq
        for e in entries
        if e.kind in CONTACT_REFERENCES and e.payload.get("contact_id")
    }
    if not referenced:
        return entries
    contacts = [
        e
        for e in log.entries(limit=max(referenced.values()))
        if e.kind == "contact_received" and e.payload.get("contact_id") in referenced
    ]
    return sorted([*entries, *contacts], key=lambda e: e.seq)
