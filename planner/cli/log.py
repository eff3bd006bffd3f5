"""``planner log``: check, read and retain the incident log.

Only ``planner log personal`` prints personal data, and that read is itself logged.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import typer

from planner.cli._common import write_file
from planner.errors import InputError
from planner.log.incident_log import DEFAULT_RETENTION_DAYS, IncidentLog, LogEntry, utc_now
from planner.log.signing import keygen as keygen_files
from planner.log.signing import load_public_key, load_signing_key, read_checkpoint
from planner.settings import get_settings

app = typer.Typer(name="log", help="Verify and read the incident log.", no_args_is_help=True)

SUMMARY_WIDTH = 72
EXIT_TAMPERED = 1
"""Exit code of ``verify`` when the chain does not verify (2 stays reserved for bad input)."""


def _db_option() -> Any:
    return typer.Option(None, "--db", help="Database URL (default: PLANNER_DB_URL).")


def _open(db: str | None, signing_key: Path | None = None) -> IncidentLog:
    key = None if signing_key is None else load_signing_key(signing_key)
    return IncidentLog(db or get_settings().db_url, create=False, signing_key=key)


def _signing_key_option() -> Any:
    return typer.Option(
        None,
        "--signing-key",
        help="Ed25519 private key (from `planner log keygen`): sign the entries this appends.",
    )


@app.command()
def keygen(
    out: Path = typer.Option(..., "-o", "--out", help="Directory for the key pair."),
) -> None:
    """Write a new Ed25519 key pair: DIR/log-signing.key (mode 0600) and DIR/log-signing.pub."""
    private, public = keygen_files(out)
    typer.echo(f"wrote {private} (keep it off the database host's backups) and {public}")


@app.command()
def checkpoint(
    signing_key: Path = typer.Option(..., "--signing-key", help="Ed25519 private key."),
    out: Path = typer.Option(..., "-o", "--out", help="Checkpoint file to write (JSON)."),
    db: str | None = _db_option(),
) -> None:
    """Write a signed checkpoint of the log head; keep it outside the database."""
    with _open(db, signing_key) as log:
        made = log.checkpoint()
    write_file(out, json.dumps(made.to_json(), indent=2) + "\n", field="-o")
    typer.echo(f"checkpoint of seq {made.seq} ({made.hash[:16]}…) written to {out}")


@app.command()
def verify(
    db: str | None = _db_option(),
    anchor: list[str] | None = typer.Option(
        None,
        "--anchor",
        help="SEQ:HASH recorded earlier (e.g. a shift's head hash); repeatable. "
        "Catches a chain rewritten with recomputed hashes.",
    ),
    public_key: Path | None = typer.Option(
        None, "--public-key", help="Ed25519 public key: every signed entry must verify."
    ),
    checkpoints: list[Path] | None = typer.Option(
        None, "--checkpoint", help="Signed checkpoint file; repeatable. Catches truncation."
    ),
) -> None:
    """Recompute the hash chain; exit 1 and name the first bad entry if anything was altered."""
    anchors = parse_anchors(anchor or [])
    key = None if public_key is None else load_public_key(public_key)
    marks = [read_checkpoint(path) for path in checkpoints or []]
    with _open(db) as log:
        report = log.verify(anchors=anchors, public_key=key, checkpoints=marks)
    if report.ok:
        extra = f"; {report.signed} signatures valid" if key is not None else ""
        if marks:
            extra += f"; {report.checkpoints} checkpoints matched"
        typer.echo(
            f"ok: {report.checked} entries verified, {len(anchors)} anchors matched, "
            f"head seq {report.head_seq}{extra}\n"
            f"anchor for later checks: --anchor {report.head_seq}:{report.head_hash}"
        )
        return
    typer.echo(
        f"TAMPERED: first bad entry seq {report.first_bad_seq}: {report.reason} "
        f"({report.checked} entries before it verified)",
        err=True,
    )
    raise typer.Exit(code=EXIT_TAMPERED)


def parse_anchors(values: list[str]) -> dict[int, str]:
    """``SEQ:HASH`` strings as a mapping; a malformed one is an InputError naming ``anchor``."""
    anchors: dict[int, str] = {}
    for value in values:
        seq_text, sep, digest = value.partition(":")
        if not sep or not seq_text.strip().isdigit():
            raise InputError(f"expected SEQ:HASH, got {value!r}", field="anchor")
        anchors[int(seq_text)] = digest
    return anchors


@app.command()
def show(
    db: str | None = _db_option(),
    incident: str | None = typer.Option(None, "--incident", help="Only this incident's entries."),
) -> None:
    """Print the timeline: time, seq, kind, actor and a short payload summary."""
    with _open(db) as log:
        entries = log.entries(incident=incident)
    if not entries:
        if incident is not None:  # a mistyped id must not look like a quiet incident
            raise InputError(f"no entries for incident {incident}", field="--incident")
        typer.echo("no entries")
        return
    for entry in entries:
        typer.echo(format_line(entry))


@app.command()
def redact(
    actor: str = typer.Option(..., "--actor", help="Who runs the retention (is logged)."),
    older_than_days: int = typer.Option(
        DEFAULT_RETENTION_DAYS, "--older-than-days", min=1, help="Retention period in days."
    ),
    reason: str = typer.Option(
        "retention period", "--reason", help="Why (is logged in the redaction entry)."
    ),
    db: str | None = _db_option(),
    signing_key: Path | None = _signing_key_option(),
) -> None:
    """Wipe personal data recorded more than N days ago, through a logged redaction entry;
    the hash chain stays valid and the data is erased from the database files."""
    cut_off = utc_now() - timedelta(days=older_than_days)
    with _open(db, signing_key) as log:
        count = log.redact_personal(older_than=cut_off, actor=actor, reason=reason)
    typer.echo(
        f"redacted personal data of {count} entries recorded before {cut_off:%Y-%m-%d %H:%M}Z"
    )


@app.command()
def personal(
    seq: int = typer.Argument(..., min=1, help="The entry's seq."),
    reader: str = typer.Option(..., "--reader", help="Who reads (is logged)."),
    purpose: str = typer.Option(..., "--purpose", help="Why (is logged)."),
    db: str | None = _db_option(),
    signing_key: Path | None = _signing_key_option(),
) -> None:
    """Print one entry's personal data as JSON; the read is appended to the log."""
    with _open(db, signing_key) as log:
        data = log.read_personal(seq, reader=reader, purpose=purpose)
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def format_line(entry: LogEntry) -> str:
    """One timeline line; personal data shows only as a marker, never its content."""
    when = entry.recorded_at.strftime("%Y-%m-%d %H:%M:%SZ")
    actor = entry.actor or "-"
    incident = entry.incident or "-"
    marker = ""
    if entry.has_personal:
        marker = " [personal: redacted]" if entry.redacted else " [personal]"
    return (
        f"{when}  #{entry.seq:<5} {incident:<12} {entry.kind:<26} {actor:<14} "
        f"{summarise(entry.payload)}{marker}"
    )


def summarise(payload: dict[str, Any], *, width: int = SUMMARY_WIDTH) -> str:
    """``key=value`` pairs of the top-level payload, cut to ``width`` characters."""
    parts = []
    for key, value in payload.items():
        if isinstance(value, dict):
            shown = "{…}"
        elif isinstance(value, list):
            shown = f"[{len(value)} items]"
        else:
            shown = str(value)
        parts.append(f"{key}={shown}")
    text = " ".join(parts)
    return text if len(text) <= width else text[: width - 1] + "…"
