"""The dispatcher's work items in the console, in real headless Chromium against a real server
(issue 16): closed-incident history and search, notes as a narrative, shift hand-over with the
supervisor's shift log, partial sends, and the coaching sessions in the supervisor view.

The server, fleet and browser are the fixtures of ``conftest.py``, the page helpers those of
``test_console_browser``; this module gets its own server (a fresh log), so counts in the log
are this module's alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from console_support import Server, create_key
from test_console_browser import AXE, Console, _answer

pytestmark = pytest.mark.browser


def _open(server: Server, incident_id: str, code: str, at: dict[str, float], **extra: Any) -> None:
    body = {"incident_id": incident_id, "code": code, "location": at, **extra}
    server.call("POST", "/v1/incidents", body, role="dispatcher")


def _close(server: Server, incident_id: str) -> None:
    server.call("POST", f"/v1/incidents/{incident_id}/close", {"outcome": "resolved"})


def _log(server: Server) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after = 0
    while True:
        page = server.call("GET", f"/v1/log?after={after}&limit=1000")
        entries += page["entries"]
        if not page["entries"] or page.get("next_after") is None:
            return entries
        after = page["entries"][-1]["seq"]


def test_closed_incidents_are_searched_by_id_code_and_address_and_opened(
    browser: Any, server: Server
) -> None:
    """Defect 12: no closed-incident history, no search by address."""
    at = server.units[0]["home"]
    _open(server, "HIST-1", "CARDIAC_ARREST", at, address="18 Locust Street")
    _open(server, "HIST-2", "CHEST_PAIN", at, address="200 Front Street")
    _close(server, "HIST-1")
    _close(server, "HIST-2")
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        items = page.locator("#history-list button[data-id]")
        page.fill("#history-q", "hist cardiac")
        page.click("#history-form button[type=submit]")
        page.locator("#history-status", has_text="1 closed incident found").wait_for()
        assert items.evaluate_all("bs => bs.map((b) => b.dataset.id)") == ["HIST-1"]
        assert page.locator(".history-address").count() == 0  # no personal data asked for

        page.fill("#history-q", "")
        page.fill("#history-address", "front street")
        page.keyboard.press("Enter")  # a letter-free search from the keyboard
        page.locator("#history-list .history-address", has_text="200 Front Street").wait_for()
        assert items.evaluate_all("bs => bs.map((b) => b.dataset.id)") == ["HIST-2"]
        reads = [
            e
            for e in _log(server)
            if e["kind"] == "personal_data.read" and e["incident"] == "HIST-2"
        ]
        assert len(reads) == 1 and reads[0]["actor"] == "dispatcher:dispatcher-1"
        assert "address" in reads[0]["payload"]["purpose"]

        items.first.click()
        record = page.locator("#history-record")
        record.locator(".timeline li", has_text="incident closed").wait_for()
        assert "HIST-2" in record.inner_text() and "resolved" in record.inner_text()
        opened = record.locator(".timeline li", has_text="incident opened").inner_text()
        assert "[personal data hidden]" in opened and "Front" not in opened
        assert page.locator('#queue tr[data-id="HIST-2"]').count() == 0
        assert c.errors == [], c.errors
    finally:
        c.close()


def test_notes_are_a_narrative_and_what_is_typed_survives_updates_reloads_and_refusals(
    browser: Any, server: Server
) -> None:
    """Notes as a running narrative (time, author, text, in order); the note being typed is not
    lost when a live update redraws the incident, on reload, or when the server refuses it."""
    incident_id = "NOTES-1"
    _open(server, incident_id, "CHEST_PAIN", server.units[1]["home"], address="3 Pine St")
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        page.click('#detail button[data-act="personal"]')
        _answer(page, {"purpose": "working the incident"})
        page.keyboard.press("t")  # T goes to the note box
        assert page.evaluate("document.activeElement.id") == "note-text"
        page.keyboard.type("caller's daughter on the way")
        # A live update redraws the incident while the note is being typed.
        version = page.evaluate("window.dispatchConsole.store.version")
        server.call(
            "POST", f"/v1/incidents/{incident_id}/agencies", {"agency": "PD", "channel": "radio"}
        )
        page.wait_for_function(f"window.dispatchConsole.store.version > {version}")
        page.locator("#detail .timeline li", has_text="PD by radio").wait_for()
        assert page.input_value("#note-text") == "caller's daughter on the way"
        assert page.evaluate("document.activeElement.id") == "note-text"
        page.keyboard.type(", ETA 10 min")
        page.keyboard.press("Control+Enter")
        narrative = page.locator("#detail .narrative li")
        narrative.filter(has_text="ETA 10 min").wait_for()
        assert page.input_value("#note-text") == ""

        # What is typed survives a reload (session storage) and going to another incident.
        page.fill("#note-text", "second: door code 1234")
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        page.evaluate(f"window.dispatchConsole.select('{incident_id}')")
        page.locator("#note-text").wait_for()
        assert page.input_value("#note-text") == "second: door code 1234"

        # A refusal keeps the text and says why.
        def refuse(route: Any) -> None:
            route.fulfill(
                status=503,
                content_type="application/problem+json",
                body='{"type":"about:blank","title":"Service Unavailable","status":503,'
                '"detail":"the log failed verification: writes are refused","field":null}',
            )

        page.route("**/notes", refuse)
        page.click("#note-form button[type=submit]")
        page.locator("#note-error", has_text="log failed verification").wait_for()
        assert page.input_value("#note-text") == "second: door code 1234"
        page.unroute("**/notes", refuse)
        page.click("#note-form button[type=submit]")
        narrative.filter(has_text="door code 1234").wait_for()

        texts = narrative.all_inner_texts()
        assert len(texts) == 2
        assert "ETA 10 min" in texts[0] and "door code 1234" in texts[1]  # in the order added
        assert all("dispatcher:dispatcher-1" in t for t in texts)
        notes = [e for e in _log(server) if e["kind"] == "note_added"]
        assert [e["incident"] for e in notes] == [incident_id, incident_id]
        assert all("text" not in e["payload"] for e in notes)  # personal: not operational
        assert [e for e in c.errors if "503" not in e] == [], c.errors
    finally:
        c.close()
        _close(server, incident_id)


def test_a_hand_over_is_acknowledged_by_the_next_dispatcher_and_in_the_shift_log(
    browser: Any, server: Server
) -> None:
    """Hand-over notes: the next dispatcher sees and acknowledges the note; both are logged and
    the supervisor's shift log shows them; recorded coaching sessions are listed there too."""
    server.keys["dispatcher-2"] = create_key(server.db, "dispatcher", "dispatcher-2")
    _open(server, "SHIFT-1", "FALL", server.units[2]["home"])
    server.call(
        "POST",
        "/v1/coaching",
        {"coach": "supervisor-1", "colleague": "dispatcher-1", "topic": "radio discipline"},
    )
    going = Console(browser, server, "dispatcher")
    coming = Console(browser, server, "dispatcher-2")
    boss = Console(browser, server, "supervisor")
    try:
        going.page.click("#hand-over")
        _answer(going.page, {"note": "SHIFT-1: family expects a call back"})
        going.page.locator("#handover li", has_text="waiting for the next dispatcher").wait_for()
        note = coming.page.locator("#handover li", has_text="family expects a call back")
        note.wait_for(timeout=15_000)
        assert "SHIFT-1" in note.inner_text() and "dispatcher:dispatcher-1" in note.inner_text()
        ack = note.locator("button[data-ack]")
        coming.context.set_offline(True)  # nothing can be acknowledged while the server is away
        coming.page.locator("#offline").wait_for(timeout=10_000)
        assert ack.is_disabled() and coming.page.is_disabled("#hand-over")
        coming.context.set_offline(False)
        coming.page.locator("#offline").wait_for(state="hidden", timeout=10_000)
        ack.click()
        coming.page.locator("#handover").wait_for(state="hidden")
        going.page.locator("#handover").wait_for(state="hidden", timeout=15_000)

        shift = boss.page.locator("#supervisor [data-shift] li")
        shift.filter(has_text="acknowledged the hand-over").wait_for(timeout=15_000)
        assert "family expects a call back" in " ".join(shift.all_inner_texts())
        coaching = boss.page.locator("#supervisor [data-coaching] li")
        coaching.filter(has_text="radio discipline").wait_for()
        assert "supervisor-1 → dispatcher-1" in coaching.first.inner_text()

        kinds = [(e["kind"], e["actor"]) for e in _log(server) if "hand" in e["kind"]]
        assert kinds == [
            ("shift_handed_over", "dispatcher:dispatcher-1"),
            ("handover_acknowledged", "dispatcher:dispatcher-2"),
        ]
        offline = [e for e in coming.errors if "ERR_INTERNET_DISCONNECTED" not in e]
        assert going.errors == offline == boss.errors == [], (going.errors, coming.errors)
    finally:
        going.close()
        coming.close()
        boss.close()
        _close(server, "SHIFT-1")


def test_part_of_a_recommendation_is_sent_and_the_rest_solved_again(
    browser: Any, server: Server
) -> None:
    """Defect 12: a recommendation could only be sent whole. MEDIC_RESPONSE wants an ENGINE
    and an ALS unit; the dispatcher sends the engine only."""
    incident_id = "PART-1"
    _open(server, incident_id, "MEDIC_RESPONSE", server.units[4]["home"])
    c = Console(browser, server, "dispatcher")
    page = c.page
    try:
        page.locator(f'#queue tr[data-id="{incident_id}"]').click()
        recs = page.locator("#recommendation .rec")
        recs.nth(1).wait_for()
        units = recs.evaluate_all("rs => rs.map((r) => r.dataset.unit)")
        als = next(u for u in units if u.startswith("M"))
        page.keyboard.press("a")
        page.locator("#prompt[open]").wait_for()
        assert page.evaluate("document.activeElement.type") == "submit"  # Enter sends
        boxes = page.locator('#prompt-form input[name="units"]')
        assert sorted(boxes.evaluate_all("bs => bs.map((b) => b.value)")) == sorted(units)
        page.uncheck(f'#prompt-form input[name="units"][value="{als}"]')
        page.keyboard.press("Enter")
        page.locator("#toast", has_text="the rest is solved again").wait_for()
        entry = page.locator("#detail .timeline li", has_text="not sent")
        entry.wait_for()
        assert als in entry.inner_text() and "dispatcher:dispatcher-1" in entry.inner_text()
        page.wait_for_function(
            f"""() => {{
              const r = [...document.querySelectorAll('#recommendation .rec')];
              return r.length === 1 && r[0].dataset.unit === '{als}';
            }}"""
        )
        (accepted,) = [e for e in _log(server) if e["kind"] == "dispatch_accepted"]
        assert accepted["payload"]["not_sent"] == [als]
        assert accepted["payload"]["units"] == [u for u in units if u != als]
        assert c.errors == [], c.errors
    finally:
        c.close()
        _close(server, incident_id)


def test_axe_core_finds_no_serious_violations_in_the_work_item_panels(
    browser: Any, server: Server
) -> None:
    """The history list and record, the narrative with its note box and the hand-over banner
    keep the console's WCAG 2.1 A/AA standing."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `make node_modules/.installed` (npm ci)")
    _open(server, "AXE-W1", "CHEST_PAIN", server.units[1]["home"], address="5 Elm St")
    _close(server, "AXE-W1")
    _open(server, "AXE-W2", "FALL", server.units[1]["home"])
    server.call(
        "POST",
        "/v1/shift/handovers",
        {"handover_id": "HO-AXE", "note": "axe run"},
        role="dispatcher",
    )
    server.keys["dispatcher-3"] = create_key(server.db, "dispatcher", "dispatcher-3")
    c = Console(browser, server, "dispatcher-3")
    page = c.page
    run = """() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
      .then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' '))}`))"""
    try:
        page.add_script_tag(path=str(AXE))
        page.locator("#handover li", has_text="axe run").wait_for()
        page.fill("#history-q", "AXE-W1")
        page.click("#history-form button[type=submit]")
        page.locator("#history-list button[data-id]").first.click()
        page.locator("#history-record .timeline li").first.wait_for()
        page.locator('#queue tr[data-id="AXE-W2"]').click()
        page.locator("#note-text").wait_for()
        assert page.evaluate(run) == []
    finally:
        c.close()
        server.call("POST", "/v1/shift/handovers/HO-AXE/acknowledge", {})
        _close(server, "AXE-W2")
