"""The incident log: per-incident timelines, the paged log, verification, personal data reads.

Personal data (caller details, free text) is only returned to roles in
``PERSONAL_DATA_ROLES`` when asked for explicitly with a purpose, and every read (whether the
entry holds personal data or not) goes through ``IncidentLog.read_personal``, which records who
read what and why in the log itself. Dispatchers read only entries of incidents and the
contacts of incidents (:func:`may_read`); supervisors and auditors read any entry. Responses
carrying personal data are sent with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from api.deps import Auditor, LogDep, Reader, ServicesDep, TimelineReader
from api.schemas import LogEntryOut, LogPage, VerifyOut
from planner.centre.events import ID_PATTERN
from planner.centre.timeline import incident_timeline
from planner.log.api_keys import PERSONAL_DATA_ROLES, ApiKey, Role
from planner.log.incident_log import AUDIT_KINDS, IncidentLog, LogEntry

router = APIRouter(tags=["log"])

MAX_PAGE = 1000

Purpose = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Why personal data is read (required with personal=true; it is logged).",
    ),
]


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
WIDE_READERS = frozenset({Role.SUPERVISOR, Role.AUDITOR})
"""Roles whose personal-data reads are not limited to incidents."""


def may_read(key: ApiKey, entry: LogEntry) -> bool:
    """Whether ``key`` may read the personal data of ``entry``: supervisors and auditors any
    entry; dispatchers the entries of an incident and the contacts received (callers), never
    the log's own audit entries or entries of no incident (e.g. coaching notes)."""
    if key.role in WIDE_READERS:
        return True
    if entry.kind in AUDIT_KINDS:
        return False
    return entry.incident is not None or entry.kind == "contact_received"


def check_personal_purpose(key: ApiKey, purpose: str | None) -> str:
    """The stated purpose; 403 unless ``key``'s role may read personal data and one is given."""
    if key.role not in PERSONAL_DATA_ROLES:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"role {key.role.value!r} may not read personal data"
        )
    if not purpose or not purpose.strip():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="personal data is read only for a stated purpose: send ?purpose=",
        )
    return purpose.strip()


def with_personal(
    log: IncidentLog,
    entries: list[LogEntry],
    *,
    key: ApiKey,
    personal: bool,
    purpose: str | None,
) -> list[LogEntryOut]:
    """Entries as JSON, with their personal data read (and each read logged) when asked for.
    One entry the key may not read is 403; in a list such entries (and the log's own audit
    entries, which hold no personal data) are listed without being read."""
    if not personal:
        return [LogEntryOut.of(e) for e in entries]
    why = check_personal_purpose(key, purpose)
    if len(entries) == 1 and not may_read(key, entries[0]):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role {key.role.value!r} may not read the personal data of entry "
            f"{entries[0].seq} ({entries[0].kind})",
        )
    out: list[LogEntryOut] = []
    for entry in entries:
        data: dict[str, Any] | None = None
        if may_read(key, entry) and (entry.kind not in AUDIT_KINDS or len(entries) == 1):
            data = log.read_personal(entry.seq, reader=key.actor, purpose=why)
        out.append(LogEntryOut.of(entry, personal=data))
    return out


@router.get(
    "/v1/incidents/{incident_id}/timeline",
    summary="An incident's timeline from the log",
    response_model=list[LogEntryOut],
)
def timeline(
    incident_id: Annotated[str, Path(min_length=1, max_length=80, pattern=ID_PATTERN)],
    key: TimelineReader,
    log: LogDep,
    response: Response,
    personal: bool = False,
    purpose: Purpose = None,
) -> list[LogEntryOut]:
    """Every log entry of one incident, oldest first. With ``personal=true`` and a ``purpose``,
    each entry's personal data is included and each such read is recorded in the log; the
    ``contact_received`` entries of the contacts that opened or were linked to the incident
    (the caller details) are then included too, in log order; every entry read so is recorded
    (the log's own audit entries are listed, not read). Sent with ``Cache-Control: no-store``."""
    entries = incident_timeline(log, incident_id, with_contacts=personal)
    response.headers.update(NO_STORE)
    return with_personal(log, entries, key=key, personal=personal, purpose=purpose)


@router.get("/v1/log", summary="The log, a page at a time", response_model=LogPage)
def log_page(
    _key: Auditor,
    log: LogDep,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    incident: Annotated[str | None, Query(max_length=120)] = None,
) -> LogPage:
    """Entries with ``seq > after`` (operational record only, never personal data)."""
    entries = log.entries(incident=incident, after_seq=after, limit=limit)
    head = log.head()
    last = entries[-1].seq if entries else after
    return LogPage(
        entries=[LogEntryOut.of(e) for e in entries],
        next_after=last if len(entries) == limit and last < head else None,
        head=head,
    )


@router.get("/v1/log/verify", summary="Verify the log's hash chain", response_model=VerifyOut)
def verify(_key: Auditor, log: LogDep) -> VerifyOut:
    """Recompute the chain; ``ok: false`` names the first altered, removed or moved entry."""
    report = log.verify()
    return VerifyOut(
        ok=report.ok,
        checked=report.checked,
        first_bad_seq=report.first_bad_seq,
        reason=report.reason,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
    )


@router.get(
    "/v1/log/checkpoint",
    summary="The latest signed checkpoint of the log head",
    responses={404: {"description": "This server writes no checkpoints (no signing key)."}},
)
def checkpoint(_key: Reader, services: ServicesDep) -> dict[str, Any]:
    """The newest signed checkpoint (seq, hash, time, key id, Ed25519 signature), as written
    to the server's checkpoint directory; keep copies and check the log against them with
    ``planner log verify --public-key PUB --checkpoint FILE``."""
    latest = None if services.checkpoints is None else services.checkpoints.latest()
    if latest is None:
        latest = services.maybe_checkpoint(force=True)
    if latest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="this server signs no checkpoints")
    return latest.to_json()


@router.get(
    "/v1/log/{seq}/personal",
    summary="Personal data of one log entry (the read is logged)",
    response_model=LogEntryOut,
)
def personal_data(
    seq: Annotated[int, Path(ge=1, le=2**62)],
    key: TimelineReader,
    log: LogDep,
    response: Response,
    purpose: Annotated[str, Query(min_length=1, max_length=500)],
) -> LogEntryOut:
    """One entry with its personal data; the read, with reader and purpose, is itself logged
    (also when the entry holds none). Dispatchers read entries of incidents and received
    contacts only (403 otherwise). Sent with ``Cache-Control: no-store``."""
    found = log.entries(after_seq=seq - 1, limit=1)
    if not found or found[0].seq != seq:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no log entry with seq {seq}")
    response.headers.update(NO_STORE)
    return with_personal(log, found, key=key, personal=True, purpose=purpose)[0]
