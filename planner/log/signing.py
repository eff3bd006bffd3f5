"""Ed25519 signatures that anchor the incident log outside the database.

The hash chain alone shows that rows were changed by someone who did not recompute the
hashes; anyone who can write to the database can recompute them. A signature on each entry's
hash (which covers every earlier entry through ``prev_hash``) needs the private key, which
lives in a file outside the database, so a forged, edited or re-chained row no longer
verifies against the public key. Signed *checkpoints* (seq and hash of the head, written to
files outside the database) catch the one thing per-entry signatures cannot: rows cut off the
end together with their signatures.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from planner.atomic_write import write_text_atomic
from planner.errors import InputError
from planner.log.chain import utc_iso

PRIVATE_NAME = "log-signing.key"
PUBLIC_NAME = "log-signing.pub"
ENTRY_DOMAIN = b"dispatch-planner log entry v1\n"
CHECKPOINT_DOMAIN = b"dispatch-planner log checkpoint v1\n"
CHECKPOINT_FORMAT = "dispatch-planner-checkpoint/1"
MAX_CHECKPOINT_BYTES = 10_000


def keygen(directory: Path) -> tuple[Path, Path]:
    """Write a new key pair into ``directory``: the private key readable by its owner only
    (mode 0600, never overwritten) and the public key for auditors."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / PRIVATE_NAME, directory / PUBLIC_NAME
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            f"{private_path} exists; not overwriting a signing key", field="-o"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot write {private_path}: {exc.strerror}", field="-o") from None
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    public_path.write_bytes(public_pem)
    return private_path, public_path


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The private key in ``path`` (PEM), or an InputError naming ``signing-key``."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", field="signing-key") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a PEM private key: {exc}", field="signing-key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{path} is not an Ed25519 key", field="signing-key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key in ``path`` (PEM), or an InputError naming ``public-key``."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", field="public-key") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a PEM public key: {exc}", field="public-key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path} is not an Ed25519 key", field="public-key")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """A short name of a public key (first 16 hex digits of the SHA-256 of its raw bytes)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _entry_message(seq: int, digest: str) -> bytes:
    return ENTRY_DOMAIN + f"{seq}:{digest}".encode()


def sign_entry(key: Ed25519PrivateKey, *, seq: int, digest: str) -> str:
    """Hex signature of entry ``seq`` with hash ``digest`` (which covers the chain before it)."""
    return key.sign(_entry_message(seq, digest)).hex()


def entry_signature_ok(key: Ed25519PublicKey, *, seq: int, digest: str, signature: str) -> bool:
    """Whether ``signature`` is the key's signature of entry ``seq`` with hash ``digest``."""
    try:
        key.verify(bytes.fromhex(signature), _entry_message(seq, digest))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement "the log had ``seq`` entries ending in ``hash`` at ``created_at``"."""

    seq: int
    hash: str
    created_at: str
    key_id: str
    signature: str

    def signed_part(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "seq": self.seq,
            "hash": self.hash,
            "created_at": self.created_at,
            "key_id": self.key_id,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.signed_part(), "signature": self.signature}

    def signature_ok(self, key: Ed25519PublicKey) -> bool:
        try:
            key.verify(bytes.fromhex(self.signature), _checkpoint_message(self.signed_part()))
        except (InvalidSignature, ValueError):
            return False
        return True


def _checkpoint_message(part: dict[str, Any]) -> bytes:
    return CHECKPOINT_DOMAIN + json.dumps(part, sort_keys=True, separators=(",", ":")).encode()


def make_checkpoint(key: Ed25519PrivateKey, *, seq: int, digest: str, at: datetime) -> Checkpoint:
    """Sign the head ``seq``/``digest`` as of ``at``."""
    unsigned = Checkpoint(seq, digest, utc_iso(at), key_id(key.public_key()), "")
    signature = key.sign(_checkpoint_message(unsigned.signed_part())).hex()
    return Checkpoint(seq, digest, unsigned.created_at, unsigned.key_id, signature)


def parse_checkpoint(data: object, *, source: str) -> Checkpoint:
    """A checkpoint from its JSON, or an InputError naming ``checkpoint``."""
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{source} is not a log checkpoint", field="checkpoint")
    try:
        checkpoint = Checkpoint(
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            created_at=str(data["created_at"]),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{source}: malformed checkpoint ({exc})", field="checkpoint") from None
    if checkpoint.seq < 0:
        raise InputError(f"{source}: seq must not be negative", field="checkpoint")
    return checkpoint


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint in the file ``path``."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CHECKPOINT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", field="checkpoint") from None
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise InputError(f"{path} is not a log checkpoint (too large)", field="checkpoint")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{path} is not a log checkpoint (not JSON)", field="checkpoint") from None
    return parse_checkpoint(data, source=str(path))


LATEST_NAME = "latest.json"


class CheckpointDir:
    """Signed checkpoints kept in a directory outside the database, one file per checkpoint
    (``checkpoint-<seq>.json``) plus ``latest.json``; written atomically."""

    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"cannot create {directory}: {exc.strerror}", field="checkpoint-dir"
            ) from None
        self.directory = directory

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint written here, or None."""
        path = self.directory / LATEST_NAME
        return read_checkpoint(path) if path.is_file() else None

    def write(self, checkpoint: Checkpoint) -> Path:
        """Keep ``checkpoint`` (and make it the latest)."""
        text = json.dumps(checkpoint.to_json(), indent=2) + "\n"
        path = self.directory / f"checkpoint-{checkpoint.seq:012d}.json"
        write_text_atomic(path, text)
        write_text_atomic(self.directory / LATEST_NAME, text)
        return path
