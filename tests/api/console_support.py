"""What the console's browser tests share besides their fixtures (in ``conftest.py``): the
Chromium to launch, a real server's handle and its keys, and a small fleet on the map."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from typing import Any

CHROMIUM = os.environ.get("PLANNER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Server:
    base: str
    db: str
    keys: dict[str, str]
    units: list[dict[str, Any]] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None, *, role: str = "supervisor") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"X-API-Key": self.keys[role], "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None


def create_key(db: str, role: str, name: str | None = None) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "planner",
            "keys",
            "create",
            "--role",
            role,
            "--name",
            name or f"{role}-1",
            "--db",
            db,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def register_fleet(srv: Server) -> list[dict[str, Any]]:
    """A small fleet at road points spread over the region (taken from the map the page draws)."""
    region = srv.call("GET", "/v1/region/map", role="planner")
    segments = region["segments"]
    n = len(segments) // 4
    fleet = [("M1", ["ALS"]), ("M2", ["ALS"]), ("B1", ["BLS"]), ("B2", ["BLS"]), ("E1", ["ENGINE"])]
    units = []
    for k, (call_sign, caps) in enumerate(fleet):
        s = 4 * ((k * 7 + 3) * n // (len(fleet) * 7 + 1))
        lon, lat = segments[s], segments[s + 1]
        body = {
            "unit_id": call_sign,
            "call_sign": call_sign,
            "capabilities": caps,
            "home": {"lat": lat, "lon": lon},
        }
        srv.call("POST", "/v1/units", body)
        units.append(body)
    return units
