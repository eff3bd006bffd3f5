// The selected incident: recommendation with its why, METHANE, timeline and the actions.

import { ask, toast } from "./dialog.js";
import { clock, esc, humanError, secondsSince, targetState, timeOfDay, titleCase } from "./format.js";
import { PATHS } from "./store.js";
import { UNIT_STATUS_STYLE } from "./styles.js";

const PURPOSES_KEY = "dispatch-console.personal-purposes";
const WORKING_PURPOSE = "handling the incident in the dispatch console";
/** A note being typed, per incident, kept in the tab's session storage (survives redraws,
 * going to another incident, reloads and a refused save). */
const NOTE_DRAFT_KEY = (id) => `dispatch-console.note-draft.${id}`;

export class IncidentDetail {
  constructor({ store, api, canOperate, canSeePersonal, canReadTimeline, onEdit }) {
    this.onEdit = onEdit; // opens the edit form on an incident (with its personal parts if read)
    this.canReadTimeline = canReadTimeline;
    this.store = store;
    this.api = api;
    this.canOperate = canOperate;
    this.canSeePersonal = canSeePersonal;
    this.el = document.getElementById("detail");
    this.id = null;
    this.timeline = [];
    this.purpose = null; // set when the dispatcher chooses to see personal data (logged)
    this.personal = new Map(); // log seq -> personal part, read once each
    // Per incident, for the shift (this tab): why personal data was opened, and what was read.
    // Going back to an incident shows it again without asking again or reading (and logging)
    // each entry a second time.
    this.purposes = new Map(JSON.parse(sessionStorage.getItem(PURPOSES_KEY) ?? "[]"));
    this.readCache = new Map(); // incident id -> Map(seq -> personal part)
    this.firstReads = new Map(); // incident id -> the first (whole-timeline) read
  }

  async select(id) {
    if (id !== this.id) {
      this.purpose = (id && this.purposes.get(id)) ?? null;
      if (id && !this.readCache.has(id)) this.readCache.set(id, new Map());
      this.personal = id ? this.readCache.get(id) : new Map();
    }
    this.id = id;
    this.timeline = [];
    this.render();
    if (id) await this.loadTimeline();
  }

  /**
   * The incident's log entries. Personal data is never read by default: only after the
   * dispatcher asks for it and says why, and then each entry's personal part is read once
   * (every read is recorded in the log by the API).
   */
  async loadTimeline() {
    const id = this.id;
    if (!id || !this.canReadTimeline) return;
    try {
      const body = await this.api.get(PATHS.timeline(id));
      if (id !== this.id) return;
      this.timeline = Array.isArray(body) ? body : body?.entries ?? [];
      if (this.purpose) await this._readPersonal(id);
    } catch (err) {
      if (err.status !== 403) toast(`Timeline: ${err.message}`, { bad: true });
      this.timeline = [];
    }
    if (id === this.id) this.render();
  }

  async _readPersonal(id) {
    if (!this.firstReads.has(id)) {
      // The first look: one read of the whole timeline with the callers' own entries (their
      // name and callback number), every entry read once and logged once; refreshes that
      // arrive meanwhile wait for this read instead of making their own.
      const cache = this.personal;
      const read = this.api.get(PATHS.timeline(id), { personal: true, purpose: this.purpose }).then((full) => {
        for (const e of Array.isArray(full) ? full : []) {
          if (e.personal) cache.set(e.seq, { ...e.personal, _kind: e.kind });
        }
      });
      this.firstReads.set(id, read.catch((err) => {
        this.firstReads.delete(id);
        throw err;
      }));
    }
    await this.firstReads.get(id);
    if (id !== this.id) return;
    for (const e of this.timeline) {
      if (!e.has_personal || e.redacted || this.personal.has(e.seq)) continue;
      const full = await this.api.get(PATHS.personal(e.seq), { purpose: this.purpose });
      if (id !== this.id) return;
      this.personal.set(e.seq, full.personal ?? {});
    }
  }

  async revealPersonal() {
    const v = await ask("Show personal data (the read is logged)", [
      { name: "purpose", label: "Why do you need it?", type: "text", required: true,
        value: WORKING_PURPOSE },
    ]);
    if (!v) return;
    this.purpose = v.purpose;
    this.purposes.set(this.id, v.purpose);
    sessionStorage.setItem(PURPOSES_KEY, JSON.stringify([...this.purposes]));
    await this.loadTimeline();
  }

  /** The callers of the incident (name, callback number) as read with the personal data. */
  _callers() {
    return [...this.personal.values()].filter((p) => p._kind === "contact_received");
  }

  /** Open the personal data of an incident this dispatcher is working (they took the call):
   * once per incident per shift, with the purpose logged. */
  async workOn(id) {
    if (!this.canSeePersonal || this.purposes.has(id)) return;
    this.purposes.set(id, WORKING_PURPOSE);
    sessionStorage.setItem(PURPOSES_KEY, JSON.stringify([...this.purposes]));
    if (this.id === id) {
      this.purpose = WORKING_PURPOSE;
      await this.loadTimeline();
    }
  }

  /** Personal fields of the incident from its log (address, details, exact location). */
  _incidentPersonal() {
    const out = {};
    for (const e of this.timeline) {
      const p = this.personal.get(e.seq);
      if (!p || !["incident_opened", "incident_updated"].includes(e.kind)) continue;
      if (p.address) out.address = p.address;
      if (p.details) out.details = p.details;
      if (p.methane?.exact_location) out.exact_location = p.methane.exact_location;
    }
    return out;
  }

  render() {
    const i = this.id ? this.store.incidents.get(this.id) : null;
    if (!i) {
      this.el.innerHTML = `<h2 id="detail-title">Select an incident</h2>
        <p class="muted">Pick one from the queue (<kbd>J</kbd>/<kbd>K</kbd>) or on the map.</p>`;
      return;
    }
    const s = this.store;
    const recs = s.assignmentsFor(i.id);
    const unmet = s.unmetFor(i.id);
    const committed = s.unitsAt(i.id);
    const t = targetState(i);
    const code = s.codes.get(i.code);
    const op = this.canOperate;
    const dis = (cond) => (op && cond ? "" : " disabled");
    const priv = this._incidentPersonal();
    const typing = this._composerState();
    this.el.innerHTML = `
      <h2 id="detail-title"><span class="prio p${esc(i.priority)}">P${esc(i.priority)}</span>
        ${esc(i.label)}<div class="incident-id">${esc(i.id)}</div></h2>
      <dl>
        <dt>Code</dt><dd>${esc(i.code)} · level ${esc(i.level)}${i.command_level ? ` · ${esc(i.command_level)} command` : ""}${i.major_incident ? " · <strong>MAJOR INCIDENT</strong>" : ""}</dd>
        <dt>Open</dt><dd class="mono"><span data-age="${esc(i.opened_at)}">${clock(secondsSince(i.opened_at))}</span> (since ${esc(timeOfDay(i.opened_at))})</dd>
        <dt>Target</dt><dd><span class="mono ${t.cls}" data-target="${esc(i.id)}">${esc(t.text)}</span> <span class="muted mono">of ${clock(i.target_s)}</span></dd>
        <dt>Location</dt><dd class="mono">${i.location ? `${i.location.lat.toFixed(5)}, ${i.location.lon.toFixed(5)}` : "–"}</dd>
        ${priv.address ? `<dt>Address</dt><dd>${esc(priv.address)}</dd>` : ""}
        ${priv.details ? `<dt>Details</dt><dd>${esc(priv.details)}</dd>` : ""}
        ${this._callers().map((c) => `<dt>Caller</dt><dd class="caller">${esc([c.caller_name, c.caller_phone].filter(Boolean).join(" · ") || "no name or number given")}</dd>`).join("")}
      </dl>
      ${this.canSeePersonal && !this.purpose && this.timeline.some((e) => e.has_personal && !e.redacted)
        ? '<button type="button" data-act="personal">Show personal data (logged)</button>' : ""}
      <div class="actions" role="toolbar" aria-label="Incident actions">
        <button type="button" class="primary" data-act="accept" aria-keyshortcuts="a"${dis(recs.length)}>Accept <kbd>A</kbd></button>
        <button type="button" data-act="override" aria-keyshortcuts="o"${dis(true)}>Override <kbd>O</kbd></button>
        <button type="button" data-act="edit" aria-keyshortcuts="i"${dis(true)}>Edit <kbd>I</kbd></button>
        <button type="button" data-act="escalate" aria-keyshortcuts="e"${dis(true)}>Escalate <kbd>E</kbd></button>
        <button type="button" data-act="downgrade" aria-keyshortcuts="d"${dis(i.level > 1)}>Downgrade <kbd>D</kbd></button>
        <button type="button" data-act="note" aria-keyshortcuts="t"${dis(true)}>Note <kbd>T</kbd></button>
        <button type="button" data-act="query" aria-keyshortcuts="q"${dis(true)}>Query <kbd>Q</kbd></button>
        <button type="button" data-act="complaint" aria-keyshortcuts="c"${dis(true)}>Complaint <kbd>C</kbd></button>
        <button type="button" data-act="agency" aria-keyshortcuts="g"${dis(true)}>Notify agency <kbd>G</kbd></button>
        <button type="button" class="danger" data-act="close" aria-keyshortcuts="x"${dis(true)}>Close <kbd>X</kbd></button>
      </div>
      <h3>Recommendation</h3>
      <div id="recommendation">${recs.length ? recs.map((a) => this._rec(a)).join("") : '<p class="muted">No units recommended now.</p>'}</div>
      ${unmet.length ? `<h3>Unmet</h3><ul>${unmet.map((u) => `<li class="unmet">✖ ${esc(u.capability)} × ${esc(u.missing)} — <span class="muted">${esc(u.reason)}</span></li>`).join("")}</ul>` : ""}
      <h3>Units committed</h3>
      ${committed.length ? `<ul>${committed.map((u) => `<li>${esc(u.call_sign || u.id)} <span class="status-chip st-${esc(u.status)}">${esc((UNIT_STATUS_STYLE[u.status] || {}).letter || "?")} ${esc(titleCase(u.status))}</span></li>`).join("")}</ul>` : '<p class="muted">None yet.</p>'}
      <h3>METHANE</h3>
      ${this._methane(i, code, priv)}
      ${this._narrative(i)}
      <h3>Timeline</h3>
      ${this.canReadTimeline
        ? `<ol class="timeline" aria-live="polite">${this.timeline.map((e) => this._entry(e)).join("") || '<li class="muted">–</li>'}</ol>`
        : '<p class="muted">The timeline is not open to your role.</p>'}`;
    for (const btn of this.el.querySelectorAll("button[data-act]")) {
      btn.addEventListener("click", () =>
        btn.dataset.act === "personal" ? this.revealPersonal() : this.act(btn.dataset.act),
      );
    }
    this._bindComposer(i.id, typing);
  }

  /** The notes of the incident as one running narrative: time, author, text, in log order.
   * The text is personal data: shown once it has been read (and the read logged). */
  _narrative(i) {
    if (!this.canReadTimeline) return "";
    const notes = this.timeline.filter((e) => (e.kind ?? e.type) === "note_added");
    const items = notes.map((e) => {
      const text = this.personal.get(e.seq)?.text;
      const body = text ? esc(text) : e.redacted ? '<span class="muted">[personal data redacted]</span>'
        : '<span class="muted">[personal data hidden]</span>';
      return `<li><time>${esc(timeOfDay(e.recorded_at ?? e.payload?.at))}</time>
        <span class="author">${esc(e.actor ?? "")}</span><p>${body}</p></li>`;
    }).join("");
    const op = this.canOperate;
    return `<h3 id="notes-title">Notes <span class="muted">(${notes.length})</span></h3>
      <ol class="narrative" aria-labelledby="notes-title">${items || '<li class="muted">No notes yet.</li>'}</ol>
      ${op ? `<form id="note-form" class="note-form" novalidate>
        <label for="note-text">Add to the narrative (personal data; <kbd>Ctrl</kbd>+<kbd>Enter</kbd> adds, <kbd>Esc</kbd> leaves)</label>
        <textarea id="note-text" name="text" rows="2" maxlength="4000"></textarea>
        <p id="note-error" class="error" role="alert"></p>
        <button type="submit">Add note</button>
      </form>` : ""}`;
  }

  /** What is being typed in the note box, so a redraw (a live update) can put it back. */
  _composerState() {
    const box = this.el.querySelector("#note-text");
    if (!box) return null;
    return {
      focused: document.activeElement === box,
      start: box.selectionStart,
      end: box.selectionEnd,
      error: this.el.querySelector("#note-error")?.textContent ?? "",
    };
  }

  _bindComposer(id, typing) {
    const form = this.el.querySelector("#note-form");
    if (!form) return;
    const box = form.querySelector("#note-text");
    box.value = sessionStorage.getItem(NOTE_DRAFT_KEY(id)) ?? "";
    if (typing) {
      form.querySelector("#note-error").textContent = typing.error;
      if (typing.focused) {
        box.focus({ preventScroll: true });
        box.setSelectionRange(typing.start, typing.end);
      }
    }
    box.addEventListener("input", () => {
      if (box.value) sessionStorage.setItem(NOTE_DRAFT_KEY(id), box.value);
      else sessionStorage.removeItem(NOTE_DRAFT_KEY(id));
    });
    box.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        form.requestSubmit();
      } else if (e.key === "Escape") {
        this.el.focus(); // back to the incident's keys; the draft stays
      }
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.addNote(id, box.value);
    });
  }

  /** Save a note; the box empties only once the server has it (a refusal keeps the text). */
  async addNote(id, text) {
    const error = () => this.el.querySelector("#note-error");
    if (!text.trim()) {
      if (error()) error().textContent = "Note: type something first";
      return;
    }
    if (!this.canOperate || document.body.dataset.offline) return;
    try {
      await this.api.post(PATHS.notes(id), { text });
      if (sessionStorage.getItem(NOTE_DRAFT_KEY(id)) === text) sessionStorage.removeItem(NOTE_DRAFT_KEY(id));
      if (this.id === id) {
        const box = this.el.querySelector("#note-text");
        if (box && box.value === text) box.value = "";
        if (error()) error().textContent = "";
      }
      toast("Note added");
      if (this.id === id) await this.loadTimeline();
    } catch (err) {
      if (this.id === id && error()) error().textContent = humanError(err, { text: "Note" });
    }
  }

  _rec(a) {
    const s = this.store;
    const why = [];
    why.push(a.rank === 1 ? "closest capable free unit" : `rank ${a.rank} by ETA among capable units`);
    if (a.next_best_unit) {
      const gap = a.next_best_eta_s !== null && a.next_best_eta_s !== undefined ? a.next_best_eta_s - a.eta_s : null;
      why.push(`next best ${esc(this._unitLabel(a.next_best_unit))} at ${clock(a.next_best_eta_s)}${gap !== null ? ` (${gap >= 0 ? "+" : ""}${clock(gap)})` : ""}`);
    } else {
      why.push("no other capable unit");
    }
    if (a.preempted_from) why.push(`<strong>pre-empted</strong> from ${esc(a.preempted_from)}`);
    for (const n of a.notes ?? []) why.push(esc(this._namedUnits(n)));
    return `<div class="rec" data-unit="${esc(a.unit)}">
      <strong>${esc(s.unitName(a.unit))}</strong> (${esc(a.capability)}) · ETA <span class="mono">${clock(a.eta_s)}</span>
      <div class="why">${why.join(" · ")}</div></div>`;
  }

  /** A unit as the "why" texts name it: call sign and what it is ("P4 (POLICE)"), so an id
   * like P4 never reads as a priority. */
  _unitLabel(id) {
    const u = this.store.units.get(id);
    if (!u) return id;
    const caps = [...(u.capabilities ?? [])].join("/");
    return `${u.call_sign || u.id}${caps ? ` (${caps})` : ""}`;
  }

  /** The engine's notes with every unit id in them replaced by its label. */
  _namedUnits(text) {
    return String(text).replace(/[A-Za-z0-9][A-Za-z0-9._:/-]*/g, (w) => (this.store.units.has(w) ? this._unitLabel(w) : w));
  }

  _methane(i, code, priv) {
    const m = i.methane ?? {};
    const row = (k, v) => (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length) ? "" : `<dt>${k}</dt><dd>${esc(Array.isArray(v) ? v.join(", ") : v)}</dd>`);
    const exact = priv.exact_location;
    const body = [
      row("M major incident", (m.major_incident ?? i.major_incident) ? "yes" : "no"),
      row("E exact location", exact),
      row("T type", m.type ?? i.methane_type ?? code?.label),
      row("H hazards", m.hazards ?? i.hazards),
      row("A access", m.access ?? i.access),
      row("N casualties", m.casualties ?? i.casualties),
      row("E services present", m.services_present ?? i.services_present),
      row("E services required", m.services_required ?? i.services_required),
    ].join("");
    return `<dl>${body}</dl>`;
  }

  /** One timeline line; ``purpose`` says whether personal data was opened for its incident
   * (the history view passes null: a closed incident's personal parts are not read there). */
  _entry(e, { purpose = this.purpose } = {}) {
    const kind = e.kind ?? e.type ?? "event";
    const p = e.payload ?? e;
    const personal = this.personal.get(e.seq) ?? {};
    const bits = [];
    if (p.status) bits.push(titleCase(p.status));
    if (p.unit_id) bits.push(this.store.unitName(p.unit_id));
    if (p.units) bits.push(p.units.map((u) => this.store.unitName(u)).join(", "));
    if (p.not_sent?.length) {
      bits.push(`part of the recommendation: not sent ${p.not_sent.map((u) => this.store.unitName(u)).join(", ")}; the rest of the requirement is solved again`);
    }
    if (p.priority && kind !== "incident_opened") bits.push(`priority ${p.priority}`);
    if (p.code && kind === "incident_updated") bits.push(`code ${p.code}`);
    if (p.location && kind === "incident_updated") bits.push("location moved");
    if (p.methane && kind === "incident_updated") bits.push("METHANE updated");
    if (p.level) bits.push(`level ${p.level}`);
    if (p.topic) bits.push(p.topic);
    if (p.agency) bits.push(`${p.agency}${p.channel ? ` by ${p.channel}` : ""}`);
    if (p.reference) bits.push(`ref ${p.reference}`);
    if (p.cause) bits.push(p.cause);
    if (p.reason) bits.push(`“${p.reason}”`);
    if (p.category) bits.push(p.category);
    if (p.outcome) bits.push(p.outcome);
    const text = personal.text ?? personal.summary ?? personal.details;
    if (text) bits.push(`“${text}”`);
    else if (e.has_personal && !purpose) bits.push("[personal data hidden]");
    else if (e.redacted) bits.push("[personal data redacted]");
    const at = e.recorded_at ?? e.at ?? p.at;
    return `<li><time>${esc(timeOfDay(at))}</time><strong>${esc(titleCase(kind))}</strong> ${esc(bits.join(" · "))}
      ${e.actor ? `<span class="muted">— ${esc(e.actor)}</span>` : ""}</li>`;
  }

  /** Run one of the incident actions (from a button or a shortcut). Dialogs stay open on a
   * refusal (with the reason next to the field), so nothing typed is lost. */
  async act(action) {
    const i = this.id ? this.store.incidents.get(this.id) : null;
    if (!i || !this.canOperate || document.body.dataset.offline) return;
    const id = i.id;
    try {
      if (action === "accept") {
        await this._accept(i);
      } else if (action === "override") {
        await this._override(i);
      } else if (action === "escalate") {
        await ask(`Escalate ${id}`, [
          { name: "level", label: "To level", type: "number", value: i.level + 1, required: true, min: i.level + 1, max: 20 },
          { name: "cause", label: "Cause", type: "text", required: true, maxLength: 500 },
        ], { onSubmit: async (v) => {
          await this.api.post(PATHS.escalate(id), { level: Number(v.level), cause: v.cause });
          toast(`${id} escalated to level ${v.level}`);
        } });
      } else if (action === "edit") {
        this.onEdit?.(i, this._incidentPersonal());
      } else if (action === "downgrade") {
        await this._downgrade(i);
      } else if (action === "query") {
        await this._query(i);
      } else if (action === "agency") {
        await this._agency(i);
      } else if (action === "note") {
        const box = this.el.querySelector("#note-text");
        box?.scrollIntoView({ block: "center" });
        box?.focus({ preventScroll: true });
      } else if (action === "complaint") {
        await ask(`Complaint about ${id}`, [
          { name: "category", label: "Category", type: "select", value: "delay", required: true,
            options: ["delay", "conduct", "advice", "outcome", "other"].map((c) => ({ value: c, label: c })) },
          { name: "text", label: "What was said", type: "textarea", maxLength: 2000 },
        ], { onSubmit: async (v) => {
          await this.api.post(PATHS.complaints(id), { category: v.category, text: v.text || null });
          toast("Complaint recorded");
        } });
      } else if (action === "close") {
        await ask(`Close ${id}`, [
          { name: "outcome", label: "Outcome", type: "select", value: "resolved", required: true,
            options: ["resolved", "treated on scene", "transported", "false alarm", "no trace", "referred"].map((c) => ({ value: c, label: c })) },
          { name: "summary", label: "Summary", type: "textarea", maxLength: 2000 },
        ], { ok: `Close ${id}`, onSubmit: async (v) => {
          await this.api.post(PATHS.close(id), { outcome: v.outcome, summary: v.summary || null });
          toast(`${id} closed`);
        } });
      }
    } catch (err) {
      toast(`${titleCase(action)} failed: ${humanError(err)}`, { bad: true });
    }
  }

  /** Accept only after a confirmation that names the units and the incident (Enter confirms,
   * Esc does nothing): a stray "a" can no longer send anyone. */
  async _accept(i) {
    const recs = this.store.assignmentsFor(i.id);
    const units = recs.map((a) => a.unit);
    if (!units.length) return toast("Nothing recommended to accept", { bad: true });
    const names = units.map((u) => this.store.unitName(u)).join(", ");
    const fields = units.length > 1
      ? [{ name: "units", label: "Send (untick to send only part; the rest is solved again)", type: "checks",
          options: recs.map((a) => ({ value: a.unit, checked: true,
            label: `${this._unitLabel(a.unit)} · ETA ${clock(a.eta_s)}` })) }]
      : [];
    await ask(`Send ${names} to ${i.id}?`, fields, {
      ok: "Send",
      focus: "ok",
      text: `${i.code} · P${i.priority} · level ${i.level}. The crews are told at once.`,
      onSubmit: async (v) => {
        const chosen = v.units ?? units;
        if (!chosen.length) throw Object.assign(new Error("choose at least one unit"), { field: "units" });
        await this.api.post(PATHS.accept(i.id), { units: chosen });
        const sent = chosen.map((u) => this.store.unitName(u)).join(", ");
        toast(chosen.length < units.length ? `Sent ${sent} → ${i.id}; the rest is solved again` : `Accepted: ${sent} → ${i.id}`);
      },
    });
  }

  async _downgrade(i) {
    if (i.level <= 1) return toast(`${i.id} is at level 1: nothing to downgrade to`, { bad: true });
    const levels = Array.from({ length: i.level - 1 }, (_, k) => i.level - 1 - k);
    await ask(`Downgrade ${i.id} from level ${i.level}`, [
      { name: "level", label: "To level", type: "select", value: i.level - 1, required: true,
        options: levels.map((l) => ({ value: l, label: `level ${l}` })) },
      { name: "cause", label: "Cause", type: "text", required: true, maxLength: 500 },
    ], { onSubmit: async (v) => {
      await this.api.post(PATHS.downgrade(i.id), { level: Number(v.level), cause: v.cause });
      toast(`${i.id} downgraded to level ${v.level}`);
    } });
  }

  /** A query about the incident, from one of its contacts (or none: an agency, a crew). */
  async _query(i) {
    const contacts = i.contacts ?? [];
    await ask(`Query about ${i.id}`, [
      { name: "topic", label: "Topic", type: "select", value: "where is the unit", required: true,
        options: ["where is the unit", "progress", "advice", "patient's condition", "other"].map((t) => ({ value: t, label: t })) },
      { name: "contact_id", label: "From contact", type: "select", value: contacts.at(-1) ?? "",
        options: [{ value: "", label: "not a recorded contact" }, ...contacts.map((c) => ({ value: c, label: c }))] },
      { name: "text", label: "What was asked (personal data)", type: "textarea", maxLength: 2000 },
    ], { onSubmit: async (v) => {
      await this.api.post(PATHS.queries(i.id), { topic: v.topic, contact_id: v.contact_id || null, text: v.text || null });
      toast("Query recorded");
    } });
  }

  async _agency(i) {
    await ask(`Notify an agency about ${i.id}`, [
      { name: "agency", label: "Agency", type: "text", required: true },
      { name: "channel", label: "Channel", type: "select", value: "phone", required: true,
        options: ["phone", "radio", "email", "data link", "in person"].map((c) => ({ value: c, label: c })) },
      { name: "reference", label: "Their reference (if given)", type: "text" },
    ], { onSubmit: async (v) => {
      await this.api.post(PATHS.agencies(i.id), { agency: v.agency, channel: v.channel, reference: v.reference || null });
      toast(`${v.agency} notified`);
    } });
  }

  async _override(i) {
    const s = this.store;
    const recommended = s.assignmentsFor(i.id).map((a) => a.unit);
    const candidates = [...s.units.values()]
      .filter((u) => u.status === "available" || u.status === "dispatched" || u.status === "en_route")
      .filter((u) => u.incident !== i.id)
      .sort((a, b) => (a.call_sign || a.id).localeCompare(b.call_sign || b.id, undefined, { numeric: true }));
    await ask(`Override the recommendation for ${i.id}`, [
      { name: "units", label: "Send these units", type: "checks",
        options: candidates.map((u) => ({ value: u.id, label: `${u.call_sign || u.id} (${[...(u.capabilities ?? [])].join(", ")}, ${titleCase(u.status)})`, checked: recommended.includes(u.id) })) },
      { name: "reason", label: "Reason (required)", type: "textarea", required: true, minLength: 3, maxLength: 1000 },
    ], { onSubmit: async (v) => {
      if (!v.units.length) throw Object.assign(new Error("choose at least one unit"), { field: "units" });
      await this.api.post(PATHS.override(i.id), { units: v.units, reason: v.reason, instead_of: recommended });
      toast(`Override recorded for ${i.id}`);
    } });
  }
}
