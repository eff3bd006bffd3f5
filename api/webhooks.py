"""Outbound webhooks: every new log entry POSTed to the registrations that want its kind.

One background thread follows the log (woken by the engine after each write, it reads the
entries since the last it saw, so derived events keep their real seqs) and delivers each
entry as the same JSON the event stream sends. The body is signed with the registration's
secret: ``X-Planner-Signature: sha256=<hex HMAC-SHA256 of the body>``; the receiver recomputes
it to know the call came from this server and was not altered. A failed attempt (no answer,
or not 2xx) is retried after ``base * 2**(attempt-1)`` seconds, up to ``max_attempts``; every
attempt is in the delivery log. Each registration's cursor (the seq up to which every entry is
delivered or given up on) is persisted, so after a restart deliveries go on from there:
entries written while the server was down are pushed too, and an entry whose delivery was
under way may be delivered twice (``X-Planner-Delivery`` names webhook, seq and attempt).

Server-side request forgery guard (:class:`AddressGuard`): a webhook URL may not point into
this server's own networks. Registration refuses a URL whose host is, or resolves to, a
loopback, private, link-local (cloud metadata), multicast, reserved or otherwise non-global
address; every delivery resolves the host again, checks every address, and connects to the
checked address itself (no second lookup, no redirects followed), so a name re-pointed at an
internal address after registration is refused too. ``PLANNER_WEBHOOK_ALLOW_NETWORKS`` lists
the networks (CIDR) an integrator on a private network may deliver to.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from planner.centre.engine import Engine, Outcome
from planner.errors import InputError
from planner.log.incident_log import IncidentLog, LogEntry
from planner.log.webhooks import OCTET, Webhook, WebhookStore

SIGNATURE_HEADER = "X-Planner-Signature"
TIMEOUT_S = 5.0
LIVE_REFRESH_S = 1.0
"""How long the dispatcher trusts its list of live registrations while this process changed
none: reading the list on every write would cost every write a query. It is woken by writes
only while some registration is live (or this process changed one), and looks on its own at
least this often, so registrations made by another process and revoked keys are noticed
within this time (and a registration is checked again before every delivery attempt)."""


def sign(secret: str, body: bytes) -> str:
    """The signature header value for ``body``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def entry_body(entry: LogEntry) -> bytes:
    """The delivered JSON: the event stream's message data (no personal data)."""
    data: dict[str, Any] = {
        "seq": entry.seq,
        "type": entry.kind,
        "incident": entry.incident,
        "actor": entry.actor,
        "recorded_at": entry.recorded_at.isoformat(),
        "event": entry.payload,
    }
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
"""Cloud instance-metadata endpoints (AWS, ECS, Alibaba, AWS IPv6): refused even when an
allowed network contains them."""


REFUSED_V4 = {
    ipaddress.IPv4Network(net): kind
    for net, kind in (
        ("0.0.0.0/8", "this-host"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
}
"""IPv4 networks webhooks never reach unless allowed: this host (0/8), private (RFC 1918),
shared carrier-grade NAT (100.64/10, where some clouds put metadata), loopback, link-local
(169.254/16: cloud metadata), IETF protocol assignments, documentation and benchmarking
ranges, 6to4 relay, multicast and reserved (240/4, broadcast)."""


def _why_refused(address: IpAddress) -> str | None:
    """What kind of internal address ``address`` is, or None for a public one."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv4Address):
        hit = next((n for n in REFUSED_V4 if address in n), None)
        return None if hit is None else f"a {REFUSED_V4[hit]} address ({hit})"
    if address.ipv4_mapped is not None:
        return _why_refused(address.ipv4_mapped)
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("non-public", not address.is_global),
    )
    return next((f"a {name} address" for name, hit in checks if hit), None)


class AddressGuard:
    """Which addresses webhooks may be delivered to: public ones, and those in ``allow``."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allow
        )

    def check(self, url: str, *, unresolved_ok: bool = False) -> list[IpAddress]:
        """The addresses to deliver ``url`` to (its host resolved now, every address checked),
        or an InputError naming ``url``. A host that does not resolve is an error, unless
        ``unresolved_ok`` (at registration: it is checked again at every delivery)."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InputError("must be an http or https URL with a host", field="url")
        host = parts.hostname
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, ValueError, UnicodeError) as exc:
            if unresolved_ok:
                return []
            raise InputError(f"host {host!r} does not resolve ({exc})", field="url") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(i[4][0]) for i in infos))
        for address in addresses:
            self._refuse(host, address)
        return addresses

    def refused_v4(self) -> list[ipaddress.IPv4Network]:
        """The IPv4 networks refused with this allow-list (for the OpenAPI document)."""
        refused = list(REFUSED_V4)
        for allowed in self.allow:
            if not isinstance(allowed, ipaddress.IPv4Network):
                continue
            kept: list[ipaddress.IPv4Network] = []
            for net in refused:
                if net.subnet_of(allowed):
                    continue
                if allowed.subnet_of(net):
                    kept.extend(net.address_exclude(allowed))
                else:
                    kept.append(net)
            refused = kept
        return sorted(refused)

    def _refuse(self, host: str, address: IpAddress) -> None:
        why = _why_refused(address)
        if why is None:
            return
        if address not in METADATA_ADDRESSES and any(address in n for n in self.allow):
            return
        raise InputError(
            f"host {host!r} is {why}: {address}; webhooks go to public addresses only "
            "(PLANNER_WEBHOOK_ALLOW_NETWORKS lists private networks to allow)",
            field="url",
        )


def refused_url_pattern(guard: AddressGuard) -> str:
    """A regular expression matching the URLs registration refuses without a DNS lookup:
    a dotted-quad host in a refused network, or ``localhost`` (for the OpenAPI document)."""
    hosts = [_network_regex(net) for net in guard.refused_v4()]
    local = "[Ll][Oo][Cc][Aa][Ll][Hh][Oo][Ss][Tt]"
    hosts.append(rf"([A-Za-z0-9_-]{{1,63}}\.)*{local}\.?")
    return rf"^https?://({'|'.join(hosts)})(:[0-9]{{1,5}})?([/?#]|$)"


def _network_regex(net: ipaddress.IPv4Network) -> str:
    """The dotted quads (decimal, no leading zeros) of ``net``."""
    octets = net.network_address.packed
    full, rest = divmod(net.prefixlen, 8)
    parts = [str(o) for o in octets[:full]]
    if full < 4:
        if rest:
            low = octets[full]
            parts.append(_range_regex(low, low + (1 << (8 - rest)) - 1))
        else:
            parts.append(OCTET)
        parts += [OCTET] * (4 - len(parts))
    return r"\.".join(parts)


def _range_regex(low: int, high: int) -> str:
    """The decimal numbers ``low``..``high`` (no leading zeros), one alternative per run of
    last digits: 64..127 is ``(6[4-9]|7[0-9]|…|12[0-7])``."""
    runs: dict[str, list[int]] = {}
    for value in range(low, high + 1):
        text = str(value)
        runs.setdefault(text[:-1], []).append(int(text[-1]))
    alternatives = [
        f"{prefix}{d[0]}" if len(d) == 1 else f"{prefix}[{d[0]}-{d[-1]}]"
        for prefix, d in sorted(runs.items(), key=lambda kv: -len(kv[0]))
    ]
    return "(" + "|".join(alternatives) + ")"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address the guard checked, while the request names the URL's host."""

    def __init__(self, host: str, port: int, address: IpAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address; the certificate is verified for the URL's host name."""

    def __init__(self, host: str, port: int, address: IpAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(url: str, address: IpAddress, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` to ``url`` at ``address``; the response status (redirects not followed)."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    kind = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
    conn = kind(parts.hostname, port, address, timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn.request("POST", target, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return int(response.status)
    finally:
        conn.close()


@dataclass(order=True)
class _Job:
    due: float
    order: int
    hook: Webhook = field(compare=False)
    seq: int = field(compare=False)
    kind: str = field(compare=False)
    body: bytes = field(compare=False)
    attempt: int = field(compare=False, default=1)


class WebhookDispatcher:
    """The background deliverer; ``close()`` stops it (pending retries are dropped)."""

    def __init__(
        self,
        store: WebhookStore,
        log: IncidentLog,
        engine: Engine,
        *,
        guard: AddressGuard | None = None,
        max_attempts: int = 5,
        backoff_base_s: float = 1.0,
    ) -> None:
        self._store = store
        self._log = log
        self._guard = guard if guard is not None else AddressGuard()
        self._max_attempts = max_attempts
        self._base = backoff_base_s
        self._seen: dict[int, int] = {}
        self._pending: dict[int, set[int]] = {}
        self._jobs: list[_Job] = []
        self._order = 0
        self._hooks: list[Webhook] = []
        self._hooks_read: tuple[int, float] | None = None
        """The store's change count and the time when ``_hooks`` was read."""
        self._wake = threading.Event()
        self._wake.set()  # first look: what was written while the server was down
        self._stop = threading.Event()
        self._unsubscribe = engine.subscribe(self._on_outcome)
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._unsubscribe()
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=TIMEOUT_S + 1)

    def _on_outcome(self, _outcome: Outcome) -> None:
        """Wake the deliverer, unless no registration is live: then a write costs nothing
        (waking a thread per write for nothing costs a busy server about a millisecond)."""
        read = self._hooks_read
        if self._hooks or read is None or read[0] != self._store.changes:
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            due = self._jobs[0].due - time.monotonic() if self._jobs else LIVE_REFRESH_S
            self._wake.wait(timeout=min(max(due, 0.0), LIVE_REFRESH_S))
            self._wake.clear()
            if self._stop.is_set():
                return
            self._collect()
            while self._jobs and self._jobs[0].due <= time.monotonic():
                self._attempt(heapq.heappop(self._jobs))

    def _collect(self) -> None:
        """Queue, for every live hook, the entries after what it has seen that it wants; a
        hook seen for the first time starts at its persisted cursor."""
        hooks = self._live()
        if not hooks:  # the common case: no reading of entries nobody wants
            return
        unseen = [h for h in hooks if h.id not in self._seen]
        if unseen:
            cursors = self._store.cursors()
            head = self._log.head()
            for hook in unseen:
                self._seen[hook.id] = cursors.get(hook.id, head)
                self._pending[hook.id] = set()
        after = min(self._seen[h.id] for h in hooks)
        self._log.sync()  # woken by a commit that may not be flushed yet: entries are durable ones
        entries = self._log.entries(after_seq=after)
        if not entries:
            return
        for hook in hooks:
            wanted = [e for e in entries if e.seq > self._seen[hook.id] and hook.wants(e.kind)]
            for entry in wanted:
                self._pending[hook.id].add(entry.seq)
                job = _Job(time.monotonic(), 0, hook, entry.seq, entry.kind, entry_body(entry))
                self._push(job)
            self._seen[hook.id] = entries[-1].seq
            if not wanted:
                self._done(hook.id, None)

    def _live(self) -> list[Webhook]:
        """The live registrations, read again when this process changed one or after
        ``LIVE_REFRESH_S``."""
        changes, now = self._store.changes, time.monotonic()
        read = self._hooks_read
        if read is None or read[0] != changes or now - read[1] >= LIVE_REFRESH_S:
            self._hooks = self._store.live()
            self._hooks_read = (changes, now)
        return self._hooks

    def _done(self, hook_id: int, seq: int | None) -> None:
        """``seq`` is delivered or given up on: persist the cursor below what is still open."""
        pending = self._pending.setdefault(hook_id, set())
        if seq is not None:
            pending.discard(seq)
        cursor = min(pending) - 1 if pending else self._seen.get(hook_id, 0)
        self._store.advance(hook_id, cursor)

    def _push(self, job: _Job) -> None:
        self._order += 1
        job.order = self._order
        heapq.heappush(self._jobs, job)

    def _attempt(self, job: _Job) -> None:
        if not self._store.is_live(job.hook.id):
            return
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(job.hook.secret, job.body),
            "X-Planner-Delivery": f"{job.hook.id}-{job.seq}-{job.attempt}",
        }
        status: int | None = None
        error: str | None = None
        try:
            address = self._guard.check(job.hook.url)[0]
            status = post(job.hook.url, address, job.body, headers, TIMEOUT_S)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except InputError as exc:
            error = f"refused: {exc.message}"
        except (OSError, ValueError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivered = status is not None and 200 <= status < 300
        self._store.record(
            job.hook.id,
            seq=job.seq,
            kind=job.kind,
            attempt=job.attempt,
            status_code=status,
            error=error,
            delivered=delivered,
        )
        if not delivered and job.attempt < self._max_attempts:
            delay = self._base * 2 ** (job.attempt - 1)
            job.due = time.monotonic() + delay
            job.attempt += 1
            self._push(job)
        else:
            self._done(job.hook.id, job.seq)
