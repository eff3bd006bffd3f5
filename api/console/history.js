// Closed incidents: search the history by id, code or type words, or by address (personal
// data: the server reads the address of each incident it returns and logs each read), and
// open one's record (its timeline from the log). Read-only; paged with the list's cursor.

import { esc, humanError, timeOfDay, titleCase } from "./format.js";
import { PATHS } from "./store.js";

const ADDRESS_PURPOSE = "searching closed incidents by address in the dispatch console";
const PAGE = 25;

export class HistoryPanel {
  constructor({ api, canSeePersonal, canReadTimeline, formatEntry }) {
    this.api = api;
    this.canReadTimeline = canReadTimeline;
    this.formatEntry = formatEntry; // a log entry as a timeline line (the incident view's)
    this.form = document.getElementById("history-form");
    this.list = document.getElementById("history-list");
    this.more = document.getElementById("history-more");
    this.record = document.getElementById("history-record");
    this.status = document.getElementById("history-status");
    this.items = [];
    this.addresses = {};
    this.cursor = null;
    this.query = null;
    document.getElementById("history-address-field").hidden = !canSeePersonal;
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.search();
    });
    this.more.addEventListener("click", () => this.search({ more: true }));
  }

  /** The first page for what is typed (or, with ``more``, the next page of the same search). */
  async search({ more = false } = {}) {
    if (!more) {
      const q = document.getElementById("history-q").value.trim();
      const address = document.getElementById("history-address").value.trim();
      this.query = { status: "closed", limit: PAGE, q: q || null };
      if (address) Object.assign(this.query, { address, purpose: ADDRESS_PURPOSE });
      this.items = [];
      this.addresses = {};
      this.cursor = null;
    }
    try {
      const page = await this.api.get(PATHS.incidents, { ...this.query, cursor: more ? this.cursor : null });
      this.items.push(...page.closed);
      Object.assign(this.addresses, page.addresses ?? {});
      this.cursor = page.next_cursor;
      this.status.textContent = `${this.items.length}${this.cursor ? "+" : ""} closed incident${this.items.length === 1 ? "" : "s"} found`;
    } catch (err) {
      this.status.textContent = `Search failed: ${humanError(err, { q: "Id, code or type", address: "Address" })}`;
    }
    this.render();
  }

  render() {
    this.list.innerHTML = this.items.map((s) => `<li>
      <button type="button" class="history-item" data-id="${esc(s.id)}">
        <strong>${esc(s.id)}</strong> <span class="prio p${esc(s.priority ?? "")}">P${esc(s.priority ?? "–")}</span>
        ${esc(s.code)} · closed ${esc(timeOfDay(s.closed_at))} · ${esc(s.outcome ?? "")}</button>
      ${this.addresses[s.id] ? `<div class="history-address">${esc(this.addresses[s.id])}</div>` : ""}
    </li>`).join("");
    this.more.hidden = !this.cursor;
    for (const btn of this.list.querySelectorAll("button[data-id]")) {
      btn.addEventListener("click", () => this.open(btn.dataset.id));
    }
  }

  /** One closed incident's record: its summary and its timeline (operational entries; personal
   * parts stay hidden here). */
  async open(id) {
    const s = this.items.find((x) => x.id === id);
    if (!s) return;
    let timeline = [];
    let note = "";
    if (this.canReadTimeline) {
      try {
        timeline = await this.api.get(PATHS.timeline(id));
      } catch (err) {
        note = `Timeline: ${humanError(err)}`;
      }
    } else {
      note = "The timeline is not open to your role.";
    }
    this.record.hidden = false;
    this.record.innerHTML = `<h3 id="history-record-title">${esc(s.id)} · ${esc(titleCase(s.code))}</h3>
      <p>Level ${esc(s.level)} · opened ${esc(timeOfDay(s.opened_at))} · closed ${esc(timeOfDay(s.closed_at))}
        · ${esc(s.outcome ?? "")} · <span class="mono">${esc(s.lat.toFixed(5))}, ${esc(s.lon.toFixed(5))}</span></p>
      ${note ? `<p class="muted">${esc(note)}</p>` : ""}
      <ol class="timeline" aria-labelledby="history-record-title">${timeline.map((e) => this.formatEntry(e)).join("")}</ol>`;
    this.record.focus?.();
  }
}
