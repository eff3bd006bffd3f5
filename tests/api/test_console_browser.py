"""The dispatcher console in real headless Chromium against a real server on loopback.

A server process is started with the Harrisburg region and a fresh SQLite file (keys made with
``planner keys create``); two browser contexts sign in, one opens an incident through the
contact form, accepts the recommendation and closes the incident, and the other sees each
change arrive over the event stream. Screenshots go to ``artifacts/`` (git-ignored; kept by CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from console_support import CHROMIUM, Server, create_key

from planner.settings import PROJECT_ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "artifacts"
VIEWPORT = {"width": 1440, "height": 900}

playwright_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
    pytest.skip(
        f"no Chromium at {CHROMIUM} (CI installs the Debian package)", allow_module_level=True
    )


@pytest.fixture
def say(capsys: pytest.CaptureFixture[str]) -> Any:
    """Print to the test log even when output is captured (screenshot paths, timings)."""

    def _say(message: str) -> None:
        with capsys.disabled():
            print(f"\n[console] {message}")

    return _say


class Console:
    """One signed-in console page, collecting console errors as it goes."""

    def __init__(self, browser: Any, server: Server, role: str) -> None:
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        started = time.perf_counter()
        self.page.goto(server.base + "/")
        self.page.fill("#login-key", server.keys[role])
        self.page.press("#login-key", "Enter")
        self.page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        self.load_s = time.perf_counter() - started

    def close(self) -> None:
        self.context.close()


def test_open_accept_and_close_an_incident_across_two_consoles(
    browser: Any, server: Server, say: Any
) -> None:
    a = Console(browser, server, "dispatcher")
    b = Console(browser, server, "supervisor")
    say(f"console ready in {a.load_s:.2f} s (sign-in included)")
    page = a.page
    # The key is kept for the tab: a reload signs straight in.
    b.page.reload()
    b.page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert b.page.locator("#login[open]").count() == 0
    ready_ms = b.page.evaluate("window.consoleMetrics.readyMs")
    say(f"reload: console ready {ready_ms:.0f} ms after its script started (map, codes, state)")

    # Open an incident through the contact form, location typed at a unit's road point.
    target = server.units[1]["home"]
    page.keyboard.press("n")
    page.select_option("#c-code", "CARDIAC_ARREST")
    assert "chest compressions" in page.inner_text("#c-advice")
    page.fill("#c-lat", f"{target['lat'] + 0.001:.6f}")
    page.fill("#c-lon", f"{target['lon'] + 0.001:.6f}")
    page.fill("#contact-form input[name=casualties]", "1")
    page.click("#contact-form button[type=submit]")

    # The queue and the map show it with its recommendation.
    row = page.locator("#queue tbody tr").first
    row.wait_for(timeout=15_000)
    assert "CARDIAC_ARREST" in row.inner_text()
    incident_id = row.get_attribute("data-id")
    page.locator("#recommendation .rec").first.wait_for(timeout=15_000)
    recommended = page.locator("#recommendation .rec").first.get_attribute("data-unit")
    assert recommended
    lines = page.evaluate("window.dispatchConsole.map.layers.lines.length")
    assert lines >= 1
    # The second console shows the same incident without reloading.
    b.page.locator(f'#queue tr[data-id="{incident_id}"]').wait_for(timeout=15_000)

    # Accept (hand over) with the keyboard: it asks first, naming the units; Enter confirms.
    # The other console sees the unit dispatched.
    page.locator(f'#queue tr[data-id="{incident_id}"]').focus()
    page.keyboard.press("a")
    page.locator("#prompt[open]").wait_for()
    title = page.inner_text("#prompt-title")
    assert title.startswith(f"Send {recommended}") and title.endswith(f" to {incident_id}?")
    page.keyboard.press("Enter")
    chip = b.page.locator(f'#units tr[data-id="{recommended}"] .status-chip')
    started = time.perf_counter()
    b.page.wait_for_function(
        f"""document.querySelector('#units tr[data-id="{recommended}"] .status-chip')
            ?.dataset.status === 'dispatched'""",
        timeout=15_000,
    )
    say(f"accept → second console shows dispatched in {time.perf_counter() - started:.3f} s")
    assert "dispatched" in chip.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "console.png"
    page.screenshot(path=str(shot))
    say(f"screenshot: {shot}")

    # Close it; both queues empty out and the unit is free again.
    page.keyboard.press("x")
    page.click("#prompt-form button[type=submit]")
    b.page.locator(f'#queue tr[data-id="{incident_id}"]').wait_for(state="detached", timeout=15_000)
    b.page.wait_for_function(
        f"""document.querySelector('#units tr[data-id="{recommended}"] .status-chip')
            ?.dataset.status === 'available'""",
        timeout=15_000,
    )
    assert a.errors == [] and b.errors == [], (a.errors, b.errors)
    a.close()
    b.close()


def test_a_wrong_key_is_refused_and_nothing_is_kept(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(server.base + "/")
    page.fill("#login-key", "dpk_00000000_not-a-real-key-at-all-000")
    page.press("#login-key", "Enter")
    page.wait_for_function("document.querySelector('#login-error').textContent.length > 0")
    assert "not valid" in page.inner_text("#login-error")
    assert page.evaluate("sessionStorage.length") == 0
    context.close()


def test_planner_role_sees_the_picture_but_no_actions_or_personal_data(
    browser: Any, server: Server
) -> None:
    incident_id = "INC-PLANNER-VIEW"
    server.call(
        "POST",
        "/v1/incidents",
        {
            "incident_id": incident_id,
            "code": "GAS_LEAK",
            "location": server.units[0]["home"],
            "address": "1 Secret Street",
        },
        role="dispatcher",
    )
    c = Console(browser, server, "planner")
    page = c.page
    assert page.inner_text("#whoami").endswith("planner")
    assert page.is_disabled("#new-contact")
    page.locator(f'#queue tr[data-id="{incident_id}"]').click()
    page.locator("#detail .actions").wait_for()
    actions = ("accept", "override", "edit", "escalate", "downgrade", "note", "query")
    for action in (*actions, "complaint", "agency", "close"):
        assert page.is_disabled(f'#detail button[data-act="{action}"]'), action
    assert page.is_disabled("#close-road")
    page.keyboard.press("r")
    assert page.is_hidden("#closure-form")
    assert page.locator('#detail button[data-act="personal"]').count() == 0
    assert page.locator("#units select").count() == 0
    assert "Secret" not in page.content()
    assert c.errors == [], c.errors
    c.close()
    server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "test"})


def test_pick_on_map_and_duplicate_contact_is_linked(browser: Any, server: Server) -> None:
    c = Console(browser, server, "dispatcher")
    page = c.page
    page.keyboard.press("n")
    page.select_option("#c-code", "FIRE_IN_BUILDING")
    # Picking: the click lands inside the region's box and fills both fields.
    page.click("#c-pick")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    lat = float(page.input_value("#c-lat"))
    lon = float(page.input_value("#c-lon"))
    west, south, east, north = page.evaluate("window.dispatchConsole.region.bbox")
    assert south <= lat <= north and west <= lon <= east
    # Open one at a road point, then take a second call about the same place: it is offered
    # as a duplicate and linked instead of opening a second incident.
    spot = server.units[2]["home"]
    page.fill("#c-lat", f"{spot['lat']:.6f}")
    page.fill("#c-lon", f"{spot['lon']:.6f}")
    page.click("#contact-form button[type=submit]")
    page.locator("#contact").wait_for(state="hidden")
    incident_id = page.wait_for_function("window.dispatchConsole.selected()").json_value()
    assert incident_id.startswith("INC-")
    before = len(page.evaluate("[...window.dispatchConsole.store.incidents.keys()]"))
    page.keyboard.press("n")
    page.select_option("#c-code", "FIRE_IN_BUILDING")
    page.fill("#c-lat", f"{spot['lat'] + 0.0005:.6f}")
    page.fill("#c-lon", f"{spot['lon']:.6f}")
    link = page.locator(f'#c-duplicates button[data-link="{incident_id}"]')
    link.wait_for()
    link.click()
    page.locator("#contact").wait_for(state="hidden")
    page.locator("#detail .timeline li", has_text="Contact linked").wait_for(timeout=15_000)
    assert len(page.evaluate("[...window.dispatchConsole.store.incidents.keys()]")) == before
    assert c.errors == [], c.errors
    c.close()
    server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "test"})


DOCS_SCREENSHOT = PROJECT_ROOT / "docs" / "console.png"


def test_a_busy_centre_reads_at_a_glance(browser: Any, server: Server, say: Any) -> None:
    """A busy moment: 40 open incidents, pending and accepted recommendations, crews that have
    acknowledged or arrived, a closure: the queue is in priority-then-age order, every
    recommendation is a line with its ETA on the map, the status board and the alerts fill
    in. The screenshot is the README's (written to docs/ with
    PLANNER_UPDATE_DOCS_SCREENSHOT=1)."""
    segments = server.call("GET", "/v1/region/map", role="planner")["segments"]
    n = len(segments) // 4

    def spot(fraction: float) -> dict[str, float]:
        s = 4 * int(fraction * (n - 1))
        return {"lat": segments[s + 1], "lon": segments[s]}

    for k, (unit_id, caps) in enumerate(
        [
            ("M3", ["ALS"]),
            ("B3", ["BLS"]),
            ("E2", ["ENGINE"]),
            ("L1", ["LADDER"]),
            ("BC1", ["BATTALION_CHIEF"]),
            ("P7", ["POLICE"]),
        ]
    ):
        server.call(
            "POST",
            "/v1/units",
            {
                "unit_id": unit_id,
                "call_sign": unit_id,
                "capabilities": caps,
                "home": spot(0.12 + 0.13 * k),
            },
        )
    scene = [
        ("INC-BUSY-1", "CHEST_PAIN", 0.41),
        ("INC-BUSY-2", "FIRE_IN_BUILDING", 0.55),
        ("INC-BUSY-3", "FALL", 0.30),
        ("INC-BUSY-4", "CARDIAC_ARREST", 0.72),
    ]
    codes = ["FALL", "CHEST_PAIN", "BREATHING_PROBLEMS", "CAR_FIRE", "ASSAULT", "SEIZURE",
             "AUTO_FIRE_ALARM", "MINOR_ILLNESS", "STROKE"]  # fmt: skip
    scene += [(f"INC-BUSY-{k + 5}", codes[k % len(codes)], 0.04 + 0.92 * k / 36) for k in range(36)]
    for incident_id, code, where in scene:
        server.call(
            "POST",
            "/v1/incidents",
            {"incident_id": incident_id, "code": code, "location": spot(where)},
        )
    server.call("POST", "/v1/incidents/INC-BUSY-2/accept", {})
    # Some crews on their way and on scene, some dispatches not yet acknowledged.
    for incident_id in ("INC-BUSY-6", "INC-BUSY-9", "INC-BUSY-13"):
        with contextlib.suppress(urllib.error.HTTPError):  # nothing left to send there
            server.call("POST", f"/v1/incidents/{incident_id}/accept", {})
    dispatched = [
        u for u in server.call("GET", "/v1/units")["units"] if u["status"] == "dispatched"
    ]
    for k, u in enumerate(dispatched[:3]):
        server.call("POST", f"/v1/units/{u['id']}/acknowledge", {})
        if k == 0:
            server.call("POST", f"/v1/units/{u['id']}/arrive", {})
    server.call(
        "POST",
        "/v1/closures",
        {"closure_id": "flood-1", "centre": spot(0.47), "radius_m": 350, "reason": "flooding"},
    )

    c = Console(browser, server, "dispatcher")
    page = c.page
    assert page.locator("#queue tbody tr").count() == 40
    page.locator('#queue tr[data-id="INC-BUSY-4"]').click()
    page.locator("#recommendation .rec").first.wait_for()
    page.locator("#alerts-list li.alert").first.wait_for()
    priorities = [int(p.strip("P")) for p in page.locator("#queue .prio").all_inner_texts()]
    assert priorities == sorted(priorities) and priorities[0] == 1
    layers = page.evaluate("window.dispatchConsole.map.layers")
    labelled = [line for line in layers["lines"] if line.get("label")]
    rec = server.call("GET", "/v1/recommendations", role="planner")["recommendation"]
    assert len(labelled) == len(rec["assignments"]) > 0
    assert any(line.get("accepted") for line in layers["lines"])
    assert [cl["id"] for cl in layers["closures"]] == ["flood-1"]
    # The basemap's street names drawn and the routes along the roads in, then a closer look.
    page.wait_for_function(
        "(() => { const m = window.dispatchConsole.map;"
        " return !m.gl || (m.basemap && m.gl.loaded()); })()"
    )
    page.wait_for_function("window.dispatchConsole.routes.version !== null")
    page.keyboard.press("m")
    for _ in range(3):
        page.keyboard.press("+")
    page.evaluate(
        "new Promise((r) => { const g = window.dispatchConsole.map.gl;"
        " if (!g) return r(); g.once('idle', r); g.triggerRepaint(); })"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "console-busy.png"
    page.screenshot(path=str(shot))
    say(f"screenshot: {shot}")
    if os.environ.get("PLANNER_UPDATE_DOCS_SCREENSHOT") == "1":
        from PIL import Image  # Pillow comes with matplotlib

        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        with Image.open(shot) as image:  # a 255-colour palette: a third of the bytes
            palette = image.convert("RGB").quantize(255, method=Image.Quantize.FASTOCTREE)
            palette.save(DOCS_SCREENSHOT, optimize=True)
        say(f"README screenshot: {DOCS_SCREENSHOT}")
    assert c.errors == [], c.errors
    c.close()
    for incident_id, _, _ in scene:
        server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "test"})
    server.call("DELETE", "/v1/closures/flood-1")


def _answer(page: Any, values: dict[str, str], *, check: tuple[str, ...] = ()) -> None:
    """Fill the console's prompt dialog and submit it."""
    page.locator("#prompt[open]").wait_for()
    for name, value in values.items():
        field = page.locator(f'#prompt-form [name="{name}"]').first
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    for unit in check:
        page.check(f'#prompt-form input[name="units"][value="{unit}"]')
    page.click("#prompt-form button[type=submit]")
    page.locator("#prompt[open]").wait_for(state="detached")


def test_override_escalate_note_complaint_and_unit_status_from_the_keyboard(
    browser: Any, server: Server, say: Any
) -> None:
    incident_id = "INC-ACTIONS-1"
    server.call(
        "POST",
        "/v1/incidents",
        {"incident_id": incident_id, "code": "CHEST_PAIN", "location": server.units[3]["home"]},
    )
    a = Console(browser, server, "dispatcher")
    b = Console(browser, server, "supervisor")
    page = a.page
    page.locator(f'#queue tr[data-id="{incident_id}"]').click()
    page.locator("#recommendation .rec").first.wait_for()
    recommended = page.locator("#recommendation .rec").first.get_attribute("data-unit")
    other = next(
        u["unit_id"]
        for u in server.units
        if u["unit_id"] not in (recommended,) and "ALS" in u["capabilities"]
    )

    # Override: send another ALS unit, with a reason; both consoles see it committed.
    page.keyboard.press("o")
    _answer(page, {"reason": "crew already in the street"}, check=(other,))
    b.page.wait_for_function(
        f"""document.querySelector('#units tr[data-id="{other}"] .status-chip')
            ?.dataset.status === 'dispatched'""",
        timeout=15_000,
    )
    page.locator("#detail .timeline li", has_text="crew already in the street").wait_for()

    # Escalate to level 2 with a cause; the queue shows the new level.
    page.keyboard.press("e")
    _answer(page, {"level": "2", "cause": "second patient found"})
    row = b.page.locator(f'#queue tr[data-id="{incident_id}"] td:nth-child(3)')
    b.page.wait_for_function(
        f"""document.querySelector('#queue tr[data-id="{incident_id}"] td:nth-child(3)')
            ?.textContent.trim().startsWith('2')""",
        timeout=15_000,
    )
    assert row.inner_text().startswith("2")

    # A note and a complaint: their text is personal data, hidden until asked for with a reason.
    page.keyboard.press("t")  # the note box of the incident's narrative
    page.keyboard.type("caller is the patient's neighbour")
    page.keyboard.press("Control+Enter")
    page.locator("#toast", has_text="Note added").wait_for()
    page.keyboard.press("Escape")  # out of the box, back to the incident's keys
    page.keyboard.press("c")
    _answer(page, {"category": "delay", "text": "waited too long"})
    page.locator("#detail .timeline li", has_text="Complaint recorded").wait_for()
    assert "neighbour" not in page.inner_text("#detail")
    page.click('#detail button[data-act="personal"]')
    _answer(page, {"purpose": "reviewing the complaint"})
    page.locator("#detail .timeline li", has_text="neighbour").wait_for()
    assert "waited too long" in page.inner_text("#detail .timeline")
    # Defect 7: going elsewhere and back keeps it shown, without asking or reading (and
    # logging a read) again.
    reads: list[str] = []
    page.on("request", lambda r: "/personal" in r.url and reads.append(r.url))
    page.evaluate("window.dispatchConsole.select(null)")
    assert "neighbour" not in page.inner_text("#detail")
    page.evaluate(f"window.dispatchConsole.select('{incident_id}')")
    page.locator("#detail .timeline li", has_text="neighbour").wait_for()
    assert page.locator('#detail button[data-act="personal"]').count() == 0
    assert reads == []

    # A unit status change from the units panel reaches the other console.
    free = next(u["unit_id"] for u in server.units if u["unit_id"] not in (recommended, other))
    started = time.perf_counter()
    page.select_option(f'#units select[data-unit="{free}"]', "out_of_service")
    b.page.wait_for_function(
        f"""document.querySelector('#units tr[data-id="{free}"] .status-chip')
            ?.dataset.status === 'out_of_service'""",
        timeout=15_000,
    )
    say(f"status change → second console in {time.perf_counter() - started:.3f} s")
    server.call("POST", f"/v1/units/{free}/status", {"status": "available"})
    server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "test"})
    assert a.errors == [] and b.errors == [], (a.errors, b.errors)
    a.close()
    b.close()


def test_time_against_target_turns_amber_then_red_with_text_cues(
    browser: Any, server: Server
) -> None:
    """The queue's target cell: green with time left, amber (⚠) in the last quarter or two
    minutes, red (✖) once passed; met/late once a unit arrived. Checked on the page's own code."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.base + "/console/index.html")
    states = page.evaluate(
        """async () => {
            const { targetState } = await import('/console/format.js');
            const now = Date.parse('2026-01-01T12:10:00Z');
            const at = (min) => new Date(now - min * 60000).toISOString();
            const open = (min, target_s, arrived) => targetState({
                opened_at: at(min), target_s, first_arrival_at: arrived ? at(arrived) : null,
            }, now);
            return {
                fresh: open(1, 480), near: open(6.5, 480), passed: open(9, 480),
                long: open(40, 3600), met: open(10, 480, 4), late: open(20, 480, 5),
            };
        }"""
    )
    assert states["fresh"]["cls"] == "target-ok" and states["fresh"]["text"] == "7:00 left"
    assert states["near"]["cls"] == "target-amber" and states["near"]["text"].startswith("⚠")
    assert states["passed"]["cls"] == "target-red" and states["passed"]["text"] == "✖ 1:00 over"
    assert states["long"]["cls"] == "target-ok"
    assert states["met"]["text"] == "✓ met 6:00"
    assert states["late"]["cls"] == "target-red" and states["late"]["text"] == "✖ late 15:00"
    context.close()


def test_keyboard_walks_the_queue_in_priority_order(browser: Any, server: Server) -> None:
    ids = {"INC-KEYS-P3": ("FALL", 0), "INC-KEYS-P1": ("CARDIAC_ARREST", 4)}
    for incident_id, (code, unit) in ids.items():
        server.call(
            "POST",
            "/v1/incidents",
            {"incident_id": incident_id, "code": code, "location": server.units[unit]["home"]},
        )
    c = Console(browser, server, "dispatcher")
    page = c.page
    page.locator('#queue tr[data-id="INC-KEYS-P3"]').wait_for()
    page.keyboard.press("j")
    assert page.evaluate("window.dispatchConsole.selected()") == "INC-KEYS-P1"
    page.keyboard.press("j")
    assert page.evaluate("window.dispatchConsole.selected()") == "INC-KEYS-P3"
    assert page.evaluate("document.activeElement.dataset.id") == "INC-KEYS-P3"
    assert page.locator('#queue tr[aria-current="true"]').get_attribute("data-id") == "INC-KEYS-P3"
    page.keyboard.press("k")
    assert page.evaluate("window.dispatchConsole.selected()") == "INC-KEYS-P1"
    assert "INC-KEYS-P1" in page.inner_text("#detail-title")
    page.keyboard.press("?")
    page.locator("#help[open]").wait_for()
    page.keyboard.press("Escape")
    page.locator("#help[open]").wait_for(state="detached")
    page.keyboard.press("m")
    assert page.evaluate("document.activeElement.id") == "map"
    before = page.evaluate("window.dispatchConsole.map.view.scale")
    page.keyboard.press("+")
    assert page.evaluate("window.dispatchConsole.map.view.scale") > before
    assert c.errors == [], c.errors
    c.close()
    for incident_id in ids:
        server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "test"})


def test_a_key_revoked_mid_shift_signs_the_console_out(browser: Any, server: Server) -> None:
    token = create_key(server.db, "dispatcher", "leaver")
    server.keys["leaver"] = token
    c = Console(browser, server, "leaver")
    prefix = token.split("_")[1]
    subprocess.run(
        [sys.executable, "-m", "planner", "keys", "revoke", prefix, "--db", server.db],
        capture_output=True,
        check=True,
    )
    # The next event makes the page refresh with its key: 401, so it forgets the key and asks.
    unit = server.units[0]["unit_id"]
    server.call("POST", f"/v1/units/{unit}/status", {"status": "out_of_service"})
    c.page.locator("#login[open]").wait_for(timeout=15_000)
    assert c.page.evaluate("sessionStorage.length") == 0
    server.call("POST", f"/v1/units/{unit}/status", {"status": "available"})
    c.close()


def test_close_a_road_on_the_map_and_reopen_it_across_two_consoles(
    browser: Any, server: Server, say: Any
) -> None:
    a = Console(browser, server, "dispatcher")
    b = Console(browser, server, "supervisor")
    page = a.page
    # R opens the form already picking: a click on the map sets the centre.
    page.keyboard.press("r")
    page.locator("#closure-form").wait_for()
    assert page.is_visible("#pick-hint") and "closure" in page.inner_text("#pick-hint")
    page.keyboard.press("Escape")  # stop picking: the centre can be typed instead
    assert page.is_hidden("#pick-hint")
    assert page.evaluate("document.activeElement.id") == "r-lat"
    page.click("#r-pick")
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.45)
    lat = float(page.input_value("#r-lat"))
    lon = float(page.input_value("#r-lon"))
    west, south, east, north = page.evaluate("window.dispatchConsole.region.bbox")
    assert south <= lat <= north and west <= lon <= east
    assert page.is_hidden("#pick-hint")
    page.fill("#r-radius", "250")
    page.select_option("#r-effect", "slowed")
    page.fill("#r-factor", "3")
    page.fill("#r-reason", "burst water main")
    started = time.perf_counter()
    page.click("#closure-form button[type=submit]")
    page.locator("#closure-form").wait_for(state="hidden")

    # The other console lists it (with its reason) and draws it on the map.
    item = b.page.locator("#closures-list li", has_text="burst water main")
    item.wait_for(timeout=15_000)
    say(f"closure → second console in {time.perf_counter() - started:.3f} s")
    closure_id = item.get_attribute("data-id")
    assert closure_id and "slowed ×3.0" in item.inner_text() and "250 m" in item.inner_text()
    drawn = b.page.evaluate("window.dispatchConsole.map.layers.closures")
    [mine] = [c for c in drawn if c["id"] == closure_id]
    assert mine["factor"] == 3 and mine["radius_m"] == 250
    assert abs(mine["centre"]["lat"] - lat) < 1e-6 and abs(mine["centre"]["lon"] - lon) < 1e-6
    assert page.evaluate("window.dispatchConsole.map.layers.draft") is None
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "console-closure.png"
    page.screenshot(path=str(shot))
    say(f"screenshot: {shot}")

    # Reopen from the first console: both lists and maps drop it.
    page.click(f'#closures-list button[data-reopen="{closure_id}"]')
    b.page.locator(f'#closures-list li[data-id="{closure_id}"]').wait_for(
        state="detached", timeout=15_000
    )
    page.locator(f'#closures-list li[data-id="{closure_id}"]').wait_for(state="detached")
    ids = [c["id"] for c in b.page.evaluate("window.dispatchConsole.map.layers.closures")]
    assert closure_id not in ids
    active = server.call("GET", "/v1/closures", role="planner")["closures"]
    assert closure_id not in {c["id"] for c in active}
    assert a.errors == [] and b.errors == [], (a.errors, b.errors)
    a.close()
    b.close()


def test_edit_downgrade_query_and_notify_an_agency_show_in_the_timeline(
    browser: Any, server: Server
) -> None:
    incident_id = "INC-EDIT-1"
    server.call(
        "POST",
        "/v1/incidents",
        {"incident_id": incident_id, "code": "FALL", "location": server.units[4]["home"]},
    )
    server.call(
        "POST", f"/v1/incidents/{incident_id}/escalate", {"level": 2, "cause": "more callers"}
    )
    c = Console(browser, server, "dispatcher")
    page = c.page
    page.locator(f'#queue tr[data-id="{incident_id}"]').click()
    page.locator("#detail .timeline li", has_text="Incident escalated").wait_for()

    # Edit (I): priority and a METHANE field; only those are sent.
    page.keyboard.press("i")
    page.locator("#edit").wait_for()
    page.select_option("#e-priority", "2")
    page.fill('#edit-form [name="hazards"]', "icy steps")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-edit.png"))
    page.click("#edit-form button[type=submit]")
    page.locator("#edit").wait_for(state="hidden")
    page.locator(f'#queue tr[data-id="{incident_id}"] .prio', has_text="P2").wait_for()
    page.locator("#detail .timeline li", has_text="priority 2").wait_for()
    assert "icy steps" in page.inner_text("#detail")

    # Downgrade (D) to level 1 with a cause; the button is then disabled.
    page.keyboard.press("d")
    _answer(page, {"level": "1", "cause": "second caller was the same patient"})
    page.locator("#detail .timeline li", has_text="same patient").wait_for()
    page.wait_for_function(
        """document.querySelector('#detail button[data-act="downgrade"]')?.disabled === true"""
    )

    # A query (Q) and an agency notified (G).
    page.keyboard.press("q")
    _answer(page, {"topic": "progress", "text": "daughter asks when the crew arrives"})
    page.locator("#detail .timeline li", has_text="Query recorded").wait_for()
    page.keyboard.press("g")
    _answer(page, {"agency": "PennDOT", "channel": "radio", "reference": "PD-4471"})
    entry = page.locator("#detail .timeline li", has_text="Agency notified")
    entry.wait_for()
    assert "PennDOT by radio" in entry.inner_text() and "PD-4471" in entry.inner_text()
    assert "progress" in page.inner_text("#detail .timeline")
    assert "daughter" not in page.inner_text("#detail")  # personal until asked for
    detail = server.call("GET", f"/v1/incidents/{incident_id}")["incident"]
    assert detail["priority"] == 2 and detail["level"] == 1 and detail["queries"] == 1
    assert detail["agencies"] == ["PennDOT"] and detail["hazards"] == ["icy steps"]
    assert c.errors == [], c.errors
    c.close()
    server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "test"})


# -- regression tests for the defects a working dispatcher found (issue #16) ---------------------


def _open_incident(
    server: Server, incident_id: str, code: str, at: dict[str, float], **extra: Any
) -> None:
    body = {"incident_id": incident_id, "code": code, "location": at, **extra}
    server.call("POST", "/v1/incidents", body, role="dispatcher")


def _close_incident(server: Server, incident_id: str) -> None:
    server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "test"})


def test_units_at_one_station_are_one_stack_that_opens_on_click(
    browser: Any, server: Server
) -> None:
    """Defect 1: 26 units at a station were ~11 squares with one unit's label on another's
    status. Now they are one square with the count; a click spreads them out, each square with
    its own status letter and label."""
    home = server.units[3]["home"]
    station = [f"ST{k}" for k in range(4)]
    for uid in station:
        server.call(
            "POST",
            "/v1/units",
            {"unit_id": uid, "call_sign": uid, "capabilities": ["BLS"], "home": home},
        )
    server.call("POST", "/v1/units/ST2/status", {"status": "out_of_service"})
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.evaluate(f"window.dispatchConsole.map.centreOn({home['lat']}, {home['lon']})")
        stack = page.wait_for_function(
            """() => {
              const m = window.dispatchConsole.map;
              const s = m.stacks().find((s) => s.units.some((u) => u.id === 'ST0'));
              if (!s || s.units.length < 4) return null;
              return {x: s.x, y: s.y, ids: s.units.map((u) => u.id)};
            }"""
        ).json_value()
        assert set(station) <= set(stack["ids"])
        # Drawn once: one target for the stack, none for its units until it is opened.
        targets = page.evaluate(
            "window.dispatchConsole.map._targets.map((t) => t.kind + ':' + t.id)"
        )
        assert not any(t in targets for t in (f"unit:{u}" for u in station))
        box = page.locator("#map").bounding_box()
        page.mouse.click(box["x"] + stack["x"], box["y"] + stack["y"])
        spread = page.wait_for_function(
            """() => {
              const t = window.dispatchConsole.map._targets
                .filter((t) => t.kind === 'unit' && t.id.startsWith('ST'));
              return t.length === 4 ? t : null;
            }"""
        ).json_value()
        spots = {(round(t["x"]), round(t["y"])) for t in spread}
        assert len(spots) == 4  # four places, nothing on top of anything
        oos = next(t for t in spread if t["id"] == "ST2")
        page.mouse.click(box["x"] + oos["x"], box["y"] + oos["y"])
        page.wait_for_function("window.dispatchConsole.map.selected?.id === 'ST2'")
        status = page.evaluate("window.dispatchConsole.store.units.get('ST2').status")
        assert status == "out_of_service"
        assert c.errors == [], c.errors
    finally:
        c.close()
        for uid in station:  # out of the way of the other tests (there is no removal route)
            if uid != "ST2":
                server.call("POST", f"/v1/units/{uid}/status", {"status": "out_of_service"})


def test_letters_typed_while_taking_a_call_never_act_on_the_selected_incident(
    browser: Any, server: Server
) -> None:
    """Defect 3: typing "State Capitol" with the focus on the form's Pick button opened a Note
    dialog on another incident. Defect 6: Esc discarded a half-taken call; a reload lost it."""
    incident_id = "INC-KEYS-SAFE"
    _open_incident(server, incident_id, "GAS_LEAK", server.units[0]["home"])
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        page.keyboard.press("n")
        page.select_option("#c-code", "FALL")
        page.focus("#c-pick")
        page.keyboard.type("StateCapitol,taxi;accept?x")
        assert page.locator("dialog[open]").count() == 0
        assert not page.evaluate("window.dispatchConsole.map.picking")
        assert page.is_visible("#contact")
        notes = server.call("GET", f"/v1/incidents/{incident_id}")["incident"]["notes"]
        assert notes == 0
        # With the focus on the map (not in the form) the incident keys still do nothing.
        page.focus("#map")
        page.keyboard.press("t")
        page.keyboard.press("a")
        assert page.locator("dialog[open]").count() == 0
        # Esc asks before the typed call is discarded; "Cancel" keeps it.
        page.fill("#contact-form input[name=casualties]", "2")
        page.keyboard.press("Escape")
        page.locator("#prompt[open]").wait_for()
        assert page.inner_text("#prompt-title") == "Discard new contact?"
        page.click("#prompt-cancel")
        assert page.is_visible("#contact")
        # A reload gives the call back as typed (session storage).
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        assert page.is_visible("#contact")
        assert page.input_value("#c-code") == "FALL"
        assert page.input_value("#contact-form input[name=casualties]") == "2"
        page.click("#c-cancel")
        page.click("#prompt-form button[type=submit]")  # Discard
        page.locator("#contact").wait_for(state="hidden")
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        assert not page.is_visible("#contact")
        assert c.errors == [], c.errors
    finally:
        c.close()
        _close_incident(server, incident_id)


def test_a_refused_dialog_stays_open_with_what_was_typed_and_a_human_message(
    browser: Any, server: Server
) -> None:
    """Defect 6: an escalation to level 9 closed the dialog and lost the cause; the message
    named the API field."""
    incident_id = "INC-DIALOG-KEEP"
    _open_incident(server, incident_id, "GAS_LEAK", server.units[1]["home"])
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        page.locator("#detail .actions").wait_for()
        page.keyboard.press("e")
        page.locator("#prompt[open]").wait_for()
        page.fill("#prompt-form [name=level]", "9")
        cause = "smell of gas spreading to the school next door " * 8
        page.fill("#prompt-form [name=cause]", cause)
        page.click("#prompt-form button[type=submit]")
        error = page.locator("#prompt-error")
        error.wait_for()
        page.wait_for_function("document.getElementById('prompt-error').textContent.length > 0")
        assert error.inner_text().startswith("To level: level 9 is above the highest level")
        assert page.locator("#prompt[open]").count() == 1
        assert page.input_value("#prompt-form [name=cause]") == cause.strip()[
            :500
        ] or cause.startswith(page.input_value("#prompt-form [name=cause]"))
        page.fill("#prompt-form [name=level]", "2")
        page.click("#prompt-form button[type=submit]")
        page.locator("#prompt[open]").wait_for(state="detached")
        incident = server.call("GET", f"/v1/incidents/{incident_id}")["incident"]
        assert incident["level"] == 2
        assert [e for e in c.errors if "409" not in e] == [], c.errors  # the refusal itself
    finally:
        c.close()
        _close_incident(server, incident_id)


def test_a_linked_duplicate_caller_adds_what_they_said_to_the_incident(
    browser: Any, server: Server
) -> None:
    """Defect 6: linking a second caller discarded "6 casualties" (the incident kept 2), and
    "many" casualties was saved as nothing."""
    incident_id = "INC-DUP-MERGE"
    spot = server.units[4]["home"]
    _open_incident(
        server,
        incident_id,
        "ROAD_TRAFFIC_COLLISION_INJURY",
        spot,
        methane={"casualties": 2, "hazards": ["fuel"]},
    )
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.keyboard.press("n")
        page.select_option("#c-code", "ROAD_TRAFFIC_COLLISION_INJURY")
        page.fill("#c-lat", f"{spot['lat'] + 0.0003:.6f}")
        page.fill("#c-lon", f"{spot['lon']:.6f}")
        page.fill("#contact-form input[name=casualties]", "many")
        page.fill("#contact-form input[name=hazards]", "fire")
        link = page.locator(f'#c-duplicates button[data-link="{incident_id}"]')
        link.click()
        assert page.inner_text("#c-error").startswith('Casualties: "many" is not a number.')
        assert page.get_attribute("#contact-form input[name=casualties]", "aria-invalid") == "true"
        assert page.input_value("#contact-form input[name=hazards]") == "fire"
        page.fill("#contact-form input[name=casualties]", "6")
        link.click()
        page.locator("#contact").wait_for(state="hidden")
        incident = server.call("GET", f"/v1/incidents/{incident_id}")["incident"]
        assert incident["casualties"] == 6
        assert set(incident["hazards"]) == {"fuel", "fire"}
        assert len(incident["contacts"]) == 1
        assert c.errors == [], c.errors
    finally:
        c.close()
        _close_incident(server, incident_id)


def test_a_slow_down_refreshes_the_eta_shown_at_once(browser: Any, server: Server) -> None:
    """Defect 4: after a slow-down the ETA shown stayed stale until another change."""
    incident_id = "INC-SLOW-ETA"
    spot = server.units[2]["home"]  # a BLS unit's station: the ALS comes from elsewhere
    _open_incident(server, incident_id, "CARDIAC_ARREST", spot)
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        rec = page.locator("#recommendation .rec").first
        rec.wait_for()
        unit = rec.get_attribute("data-unit")
        eta = page.evaluate(
            f"window.dispatchConsole.store.assignmentsFor('{incident_id}')[0].eta_s"
        )
        home = next(u["home"] for u in server.units if u["unit_id"] == unit)
        server.call(
            "POST",
            "/v1/closures",
            {"closure_id": "RC-SLOW-ETA", "centre": home, "radius_m": 3000, "factor": 1.5,
             "reason": "snow"},
        )  # fmt: skip
        # x1.5 keeps the same unit the nearest (its lead is bigger than that): only the ETA
        # changes, which used to leave the old ETA on screen.
        started = time.perf_counter()
        page.wait_for_function(
            f"""window.dispatchConsole.store.assignmentsFor('{incident_id}')
                .find((a) => a.unit === '{unit}')?.eta_s > {eta} * 1.2""",
            timeout=5_000,
        )
        assert time.perf_counter() - started < 5
        assert c.errors == [], c.errors
    finally:
        c.close()
        server.call("DELETE", "/v1/closures/RC-SLOW-ETA")
        _close_incident(server, incident_id)


def test_a_server_outage_shows_a_banner_and_switches_actions_off(
    browser: Any, server: Server
) -> None:
    """Defect 11: with the server unreachable the console looked normal and actions failed
    with "Failed to fetch"."""
    incident_id = "INC-OFFLINE"
    _open_incident(server, incident_id, "GAS_LEAK", server.units[2]["home"])
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        page.locator("#detail .actions").wait_for()
        assert not page.is_visible("#offline")
        c.context.set_offline(True)
        page.locator("#offline").wait_for(timeout=10_000)
        assert page.inner_text("#offline").startswith("Server unreachable since")
        for action in ("override", "escalate", "note", "close"):
            assert page.is_disabled(f'#detail button[data-act="{action}"]'), action
        assert page.is_disabled("#new-contact")
        page.keyboard.press("t")
        assert page.locator("dialog[open]").count() == 0
        c.context.set_offline(False)
        page.locator("#offline").wait_for(state="hidden", timeout=10_000)
        assert page.is_enabled('#detail button[data-act="note"]')
    finally:
        c.close()
        _close_incident(server, incident_id)


def test_an_escalation_alerts_both_consoles_and_its_acknowledgement_is_logged(
    browser: Any, server: Server
) -> None:
    """Defect 2: a supervisor's escalation changed one digit on the dispatcher's screen. Now
    it is an alert on every console (flashing, announced, optionally a sound) until someone
    acknowledges it; the log says who and when, and the other console shows it as taken."""
    incident_id = "INC-ALERT-ESC"
    _open_incident(server, incident_id, "ROAD_TRAFFIC_COLLISION_INJURY", server.units[3]["home"])
    d = Console(browser, server, "dispatcher")
    s = Console(browser, server, "supervisor")
    alert = f"escalation:{incident_id}:2"
    row = f'#alerts-list li[data-alert="{alert}"]'
    try:
        assert d.page.locator(row).count() == 0
        s.page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        s.page.locator("#detail .actions").wait_for()
        s.page.keyboard.press("e")
        _answer(s.page, {"level": "2", "cause": "three casualties"})
        d.page.locator(row).wait_for(timeout=10_000)
        assert "level 2" in d.page.inner_text(row)
        assert d.page.get_attribute("#alert-count", "class") == "pill alarm"
        live = d.page.inner_text("#alert-live")
        assert live.startswith("New alert: Escalated") and incident_id not in live.split(":")[0]
        d.page.click(f'{row} button[data-ack="{alert}"]')
        s.page.locator(f"{row}.taken", has_text="taken by dispatcher:dispatcher-1").wait_for(
            timeout=10_000
        )
        taken = server.call("GET", "/v1/alerts/acknowledged")["acknowledged"]
        ack = next(a for a in taken if a["alert_id"] == alert)
        assert (ack["actor"], ack["kind"], ack["incident_id"]) == (
            "dispatcher:dispatcher-1",
            "escalation",
            incident_id,
        )
        # A second acknowledgement is refused with who already took it.
        with pytest.raises(urllib.error.HTTPError) as info:
            server.call("POST", f"/v1/alerts/{alert}/acknowledge", {"kind": "escalation"})
        assert info.value.code == 409
        assert d.errors == [] and s.errors == [], (d.errors, s.errors)
    finally:
        d.close()
        s.close()
        _close_incident(server, incident_id)


def test_the_status_board_records_acknowledge_arrive_and_clear_and_filters(
    browser: Any, server: Server
) -> None:
    """Defect 2/12: no buttons for a crew's acknowledgement or arrival; no status board."""
    incident_id = "INC-BOARD"
    _open_incident(server, incident_id, "CARDIAC_ARREST", server.units[2]["home"])
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        rec = page.locator("#recommendation .rec").first
        rec.wait_for()
        unit = rec.get_attribute("data-unit")
        tr = f'#units tr[data-id="{unit}"]'
        assert page.inner_text(f"{tr} td:nth-child(4)").startswith("recommended → INC-BOARD")
        assert page.inner_text(f"{tr} td:nth-child(5)") != "–"  # its ETA
        server.call("POST", f"/v1/incidents/{incident_id}/accept", {}, role="dispatcher")

        def status_is(status: str) -> None:
            page.wait_for_function(
                f"""document.querySelector('{tr} .status-chip')?.dataset.status === '{status}'"""
            )

        status_is("dispatched")
        assert "not ack'd" in page.inner_text(f"{tr} td:nth-child(4)")
        page.click(f'{tr} button[data-do="ack"]')
        page.locator(f'{tr} button[data-do="ack"]').wait_for(state="detached")
        status_is("en_route")  # the crew's acknowledgement puts it on the road
        page.click(f'{tr} button[data-do="arrive"]')
        status_is("on_scene")
        # Filters: by status and by type (capability).
        page.select_option("#units-status", "on_scene")
        page.wait_for_function("document.querySelectorAll('#units tbody tr').length === 1")
        page.select_option("#units-status", "")
        page.select_option("#units-type", "ENGINE")
        page.wait_for_function(
            "[...document.querySelectorAll('#units tbody tr')].every((r) => r.dataset.id !== "
            f"'{unit}')"
        )
        page.select_option("#units-type", "")
        page.click(f'{tr} button[data-do="clear"]')
        status_is("available")
        assert c.errors == [], c.errors
    finally:
        c.close()
        _close_incident(server, incident_id)


AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"


def test_axe_core_finds_no_serious_accessibility_violations(browser: Any, server: Server) -> None:
    """WCAG 2.1 A/AA rules of axe-core (installed from npm by `make`) over the console with an
    incident selected, its alerts and the status board, then with a dialog open."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make node_modules/.installed` (npm ci)")
    incident_id = "INC-AXE"
    _open_incident(server, incident_id, "CARDIAC_ARREST", server.units[1]["home"])
    c = Console(browser, server, "dispatcher")
    page = c.page
    run = """() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
      .then((r) => ({passes: r.passes.length, serious: r.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' '))}`)}))"""
    try:
        page.add_script_tag(path=str(AXE))
        page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        page.locator("#recommendation .rec").first.wait_for()
        result = page.evaluate(run)
        assert result["passes"] > 20  # it did check the page (colour contrast, labels, …)
        assert result["serious"] == []
        page.keyboard.press("n")
        page.locator("#contact").wait_for()
        assert page.evaluate(run)["serious"] == []
    finally:
        c.close()
        _close_incident(server, incident_id)


def test_the_code_picker_is_searched_by_typing_and_why_texts_name_units_by_kind(
    browser: Any, server: Server
) -> None:
    """Defect 8: "cardiac" selected nothing (up to 52 ↓ presses). Defect 9: "why" texts used
    bare unit ids that read like priorities ("nearer but without ALS: P4")."""
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.keyboard.press("n")
        assert page.evaluate("document.activeElement.id") == "c-code-search"
        page.keyboard.type("cardiac")
        assert page.input_value("#c-code") == "CARDIAC_ARREST"
        assert "chest compressions" in page.inner_text("#c-advice")
        page.fill("#c-code-search", "building")
        options = page.locator("#c-code option").all_inner_texts()
        assert len(options) >= 2 and all("building" in o.lower() for o in options[1:])
        page.press("#c-code-search", "Enter")
        assert page.evaluate("document.activeElement.id") == "c-code"
        assert "FIRE" in page.input_value("#c-code")
        spot = server.units[2]["home"]
        page.fill("#c-code-search", "cardiac arrest")
        page.fill("#c-lat", f"{spot['lat']:.6f}")
        page.fill("#c-lon", f"{spot['lon']:.6f}")
        page.click("#contact-form button[type=submit]")
        page.locator("#contact").wait_for(state="hidden")
        why = page.locator("#recommendation .why").first
        why.wait_for()
        text = why.inner_text()
        assert "(ALS)" in text or "(BLS)" in text, text
        incident_id = page.evaluate("window.dispatchConsole.selected()")
        assert c.errors == [], c.errors
    finally:
        c.close()
    _close_incident(server, incident_id)


def test_the_call_taker_sees_the_callers_name_and_number_read_once_per_incident(
    browser: Any, server: Server
) -> None:
    """Defect 7: even revealed, the caller's name and callback number never showed, and the
    reveal was lost on reselect."""
    c = Console(browser, server, "dispatcher")
    page = c.page
    reads: list[str] = []
    page.on("request", lambda r: "personal" in r.url and reads.append(r.url))
    spot = server.units[0]["home"]
    try:
        page.keyboard.press("n")
        page.keyboard.type("overdose")
        page.fill("#c-lat", f"{spot['lat'] + 0.002:.6f}")
        page.fill("#c-lon", f"{spot['lon']:.6f}")
        page.fill("#contact-form input[name=caller_name]", "Ana Lima")
        page.fill("#contact-form input[name=caller_phone]", "+1 717 555 0100")
        page.click("#contact-form button[type=submit]")
        page.locator("#contact").wait_for(state="hidden")
        caller = page.locator("#detail dd.caller")
        caller.wait_for()
        assert caller.inner_text() == "Ana Lima · +1 717 555 0100"
        incident_id = page.evaluate("window.dispatchConsole.selected()")
        assert len(reads) == 1 and "timeline?personal=true" in reads[0]  # one logged read
        page.evaluate("window.dispatchConsole.select(null)")
        page.evaluate(f"window.dispatchConsole.select('{incident_id}')")
        caller.wait_for()
        assert caller.inner_text() == "Ana Lima · +1 717 555 0100"
        assert len(reads) == 1
        assert c.errors == [], c.errors
    finally:
        c.close()
    _close_incident(server, incident_id)


def test_the_supervisor_sees_log_state_work_per_person_and_overrides(
    browser: Any, server: Server
) -> None:
    """Defect 12: the supervisor's console was the dispatcher's."""
    incident_id = "INC-SUPERVISE"
    _open_incident(server, incident_id, "CHEST_PAIN", server.units[1]["home"])
    free = [u for u in server.call("GET", "/v1/units")["units"] if u["status"] == "available"]
    server.call(
        "POST",
        f"/v1/incidents/{incident_id}/override",
        {"units": [free[0]["id"]], "reason": "crew knows the address", "instead_of": []},
        role="dispatcher",
    )
    s = Console(browser, server, "supervisor")
    d = Console(browser, server, "dispatcher")
    try:
        assert not d.page.is_visible("#supervisor")
        view = s.page.locator("#supervisor")
        view.locator("[data-log]", has_text="log intact").wait_for(timeout=15_000)
        view.locator("[data-overrides] li", has_text="crew knows the address").wait_for()
        work = view.locator("[data-work] tbody tr", has_text="dispatcher:dispatcher-1")
        cells = work.locator("td").all_inner_texts()
        assert int(cells[1]) >= 1 and int(cells[3]) >= 1  # opened, sent
        # Search the queue (defect 12): by id, code or type.
        d.page.fill("#queue-filter", "supervise chest")
        d.page.wait_for_function("document.querySelectorAll('#queue tbody tr').length === 1")
        assert d.page.get_attribute("#queue tbody tr", "data-id") == incident_id
        assert s.errors == [] and d.errors == [], (s.errors, d.errors)
    finally:
        s.close()
        d.close()
        _close_incident(server, incident_id)


def test_a_supervisor_records_coaching_from_the_console_and_a_dispatcher_cannot(
    browser: Any, server: Server
) -> None:
    """Criterion 20 through the console: the supervisor's dialog logs a ``coaching_recorded``
    entry; a refusal keeps what was typed and names the field; dispatchers get no such action."""
    s = Console(browser, server, "supervisor")
    d = Console(browser, server, "dispatcher")
    try:
        assert not d.page.is_visible("#supervisor [data-coach]")
        s.page.click("#supervisor [data-coach]")
        s.page.locator("#prompt[open]").wait_for()
        assert s.page.input_value('#prompt-form [name="coach"]') == "supervisor-1"
        typed = {
            "colleague": "dispatcher-1",
            "topic": "read back the address before sending",
            "figure": "dispatch",
            "incidents": "INC-COACH-1, bad id!",
            "follow_up": "2026-12-14",
            "notes": "agreed to practise on the next shift",
        }
        for name, value in typed.items():
            field = s.page.locator(f'#prompt-form [name="{name}"]')
            if name == "figure":
                field.select_option(value)
            else:
                field.fill(value)
        s.page.click("#prompt-form button[type=submit]")
        s.page.wait_for_function("document.getElementById('prompt-error').textContent !== ''")
        refusal = s.page.inner_text("#prompt-error")
        assert refusal.startswith("Linked incidents") and "bad id!" in refusal, refusal
        assert s.page.is_visible("#prompt[open]")
        assert s.page.input_value('#prompt-form [name="topic"]') == typed["topic"]
        _answer(s.page, {"incidents": "INC-COACH-1"})
        s.page.locator("#toast", has_text="Coaching recorded").wait_for()
        entries = server.call("GET", "/v1/log?limit=500")["entries"]
        coached = [e for e in entries if e["kind"] == "coaching_recorded"]
        assert len(coached) == 1
        payload = coached[0]["payload"]
        assert payload["topic"] == typed["topic"]
        assert payload["coach"] == "supervisor-1" and payload["colleague"] == "dispatcher-1"
        assert payload["figure"] == "dispatch" and payload["incidents"] == ["INC-COACH-1"]
        assert payload["follow_up"] == "2026-12-14"
        assert coached[0]["actor"] == "supervisor:supervisor-1"
        refused = [e for e in s.errors if "422" not in e]  # the refusal itself
        assert refused == [] and d.errors == [], (s.errors, d.errors)
    finally:
        s.close()
        d.close()
