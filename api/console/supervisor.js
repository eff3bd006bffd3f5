// The supervisor's view: is the log intact, who is doing how much, which recommendations were
// overridden and why. Read from the log (supervisors may read its operational record, never
// personal data here), page by page from where it last stopped.

import { ask, toast } from "./dialog.js";
import { esc, humanError, timeOfDay } from "./format.js";
import { PATHS } from "./store.js";

/** Entry kinds that count as a dispatcher's work on the board. */
const WORK = {
  incident_opened: "opened",
  contact_linked: "linked",
  dispatch_accepted: "sent",
  dispatch_overridden: "sent",
  incident_escalated: "escalated",
  incident_closed: "closed",
  alert_acknowledged: "alerts",
};

const RECENT_OVERRIDES = 8;
const RECENT_LOG = 20;

export class SupervisorView {
  constructor({ api, section, me }) {
    this.api = api;
    this.me = me;
    this.section = section;
    this.after = 0; // the last log seq read
    this.work = new Map(); // actor -> {opened, sent, ...}
    this.overrides = []; // newest first
    this.shift = []; // hand-overs and their acknowledgements, newest first
    this.coaching = []; // coaching sessions recorded, newest first
    this.verify = null;
    this.section.hidden = false;
    this.section.querySelector("[data-verify]").addEventListener("click", () => this.checkLog());
    this.section.querySelector("[data-coach]").addEventListener("click", () => this.recordCoaching());
  }

  /** Log a coaching session (criterion 20); a refusal keeps what was typed and names the field. */
  async recordCoaching() {
    const figures = ["", "answer", "call_handling", "dispatch", "turnout", "travel", "override_rate"];
    const values = await ask(
      "Record coaching",
      [
        { name: "coach", label: "Coach", value: this.me?.name ?? "", required: true },
        { name: "colleague", label: "Colleague", required: true },
        { name: "topic", label: "Topic", required: true },
        { name: "figure", label: "Figure (optional)", type: "select",
          options: figures.map((f) => ({ value: f, label: f ? f.replace(/_/g, " ") : "none" })) },
        { name: "incidents", label: "Linked incidents (optional, comma-separated ids)" },
        { name: "follow_up", label: "Follow-up date", type: "date" },
        { name: "notes", label: "Notes (personal data)", type: "textarea" },
      ],
      { ok: "Record", onSubmit: (v) => this._postCoaching(coachingBody(v)) },
    );
    if (values) toast(`Coaching recorded: ${values.colleague} — ${values.topic}`);
  }

  /** A refused linked id (``body.incidents.N``) is reported on the one incidents field, naming the id. */
  async _postCoaching(body) {
    try {
      await this.api.post(PATHS.coaching, body);
    } catch (err) {
      const bad = /^(?:body\.)?incidents\.(\d+)$/.exec(err.field ?? "");
      if (bad) {
        err.field = "incidents";
        err.message = `“${body.incidents[Number(bad[1])]}”: ${err.message.replace(/^(?:body\.)?incidents\.\d+:\s*/, "").replace(/^Value error, /, "")}`;
      }
      throw err;
    }
  }

  /** Read the log entries written since the last call, then redraw (one read at a time, so
   * no entry is counted twice). */
  refresh() {
    this._queue = (this._queue ?? Promise.resolve()).then(() => this._read());
    return this._queue;
  }

  async _read() {
    try {
      for (;;) {
        const page = await this.api.get(PATHS.log, { after: this.after, limit: 500 });
        for (const e of page.entries) this._count(e);
        if (page.entries.length) this.after = page.entries.at(-1).seq;
        if (page.next_after === null || page.next_after === undefined) break;
      }
    } catch (err) {
      this.error = humanError(err);
    }
    this.render();
  }

  async checkLog() {
    try {
      this.verify = await this.api.get(PATHS.verify);
    } catch (err) {
      this.verify = { ok: false, reason: humanError(err) };
    }
    this.render();
  }

  _count(e) {
    if (e.kind === "shift_handed_over" || e.kind === "handover_acknowledged") {
      this.shift.unshift(e);
      this.shift.length = Math.min(this.shift.length, RECENT_LOG);
    } else if (e.kind === "coaching_recorded") {
      this.coaching.unshift(e);
      this.coaching.length = Math.min(this.coaching.length, RECENT_LOG);
    }
    const what = WORK[e.kind];
    if (!what || !e.actor || e.actor === "system") return;
    const row = this.work.get(e.actor) ?? { opened: 0, linked: 0, sent: 0, escalated: 0, closed: 0, alerts: 0 };
    row[what] += 1;
    this.work.set(e.actor, row);
    if (e.kind === "dispatch_overridden") {
      this.overrides.unshift({ at: e.recorded_at, actor: e.actor, incident: e.incident, ...e.payload });
      this.overrides.length = Math.min(this.overrides.length, RECENT_OVERRIDES);
    }
  }

  render() {
    const v = this.verify;
    this.section.querySelector("[data-log]").innerHTML = v
      ? v.ok
        ? `<span class="target-ok">✓ log intact</span>: ${esc(v.checked)} entries checked, head ${esc(v.head_seq)}`
        : `<span class="target-red">✖ log NOT intact</span>${v.first_bad_seq ? ` at entry ${esc(v.first_bad_seq)}` : ""}: ${esc(v.reason ?? "")}`
      : '<span class="muted">not checked yet</span>';
    const rows = [...this.work].sort((a, b) => a[0].localeCompare(b[0]));
    this.section.querySelector("[data-work] tbody").innerHTML =
      rows.map(([actor, r]) => `<tr><td>${esc(actor)}</td><td>${r.opened}</td><td>${r.linked}</td><td>${r.sent}</td>
        <td>${r.escalated}</td><td>${r.closed}</td><td>${r.alerts}</td></tr>`).join("") ||
      '<tr><td colspan="7" class="muted">No work logged yet.</td></tr>';
    this.section.querySelector("[data-overrides]").innerHTML =
      this.overrides.map((o) => `<li><time>${esc(timeOfDay(o.at))}</time> ${esc(o.incident ?? o.incident_id ?? "")}:
        ${esc((o.units ?? []).join(", "))} instead of ${esc((o.instead_of ?? []).join(", ") || "nothing")}
        — “${esc(o.reason ?? "")}” <span class="muted">${esc(o.actor)}</span></li>`).join("") ||
      '<li class="muted">No overrides.</li>';
    this.section.querySelector("[data-shift]").innerHTML =
      this.shift.map((e) => `<li><time>${esc(timeOfDay(e.recorded_at))}</time> ${esc(e.actor)}
        ${e.kind === "shift_handed_over"
          ? `handed over${e.payload.incidents?.length ? ` (${esc(e.payload.incidents.length)} open)` : ""}: “${esc(e.payload.note ?? "")}”`
          : `acknowledged the hand-over ${esc(e.payload.handover_id ?? "")}`}</li>`).join("") ||
      '<li class="muted">No hand-overs yet.</li>';
    this.section.querySelector("[data-coaching]").innerHTML =
      this.coaching.map((e) => {
        const p = e.payload;
        const extra = [p.figure ? `figure: ${p.figure.replace(/_/g, " ")}` : "", p.incidents?.length ? `incidents: ${p.incidents.join(", ")}` : "",
          p.follow_up ? `follow up ${p.follow_up}` : ""].filter(Boolean).join(" · ");
        return `<li><time>${esc(timeOfDay(e.recorded_at))}</time> ${esc(p.coach)} → ${esc(p.colleague)}: ${esc(p.topic)}
          ${extra ? `<span class="muted">${esc(extra)}</span>` : ""}</li>`;
      }).join("") || '<li class="muted">No coaching recorded.</li>';
  }
}

/** The POST /v1/coaching body from the dialog's strings: empty optional fields are left out. */
function coachingBody(v) {
  const body = { coach: v.coach, colleague: v.colleague, topic: v.topic };
  if (v.figure) body.figure = v.figure;
  const incidents = v.incidents.split(",").map((s) => s.trim()).filter(Boolean);
  if (incidents.length) body.incidents = incidents;
  if (v.follow_up) body.follow_up = v.follow_up;
  if (v.notes) body.notes = v.notes;
  return body;
}
