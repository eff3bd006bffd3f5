// The contact form: code from the code table (with its approved caller advice), location typed
// or picked on the map, duplicate detection against open incidents nearby, then open or link.

import { toast } from "./dialog.js";
import { clock, esc, metres } from "./format.js";
import { PickingForm } from "./picking_form.js";
import { PATHS } from "./store.js";

/** Open incidents of the same code (or service) within this distance are offered for linking. */
export const DUPLICATE_RADIUS_M = 400;

const DRAFT_KEY = "dispatch-console.contact-draft";

export class ContactForm extends PickingForm {
  constructor({ store, api, map, canSeePersonal, onOpened }) {
    super({
      map,
      section: document.getElementById("contact"),
      form: document.getElementById("contact-form"),
      prefix: "c",
      purpose: "to place the incident",
      layer: "pick",
      next: document.getElementById("c-address"),
      typeInstead: false,
    });
    this.store = store;
    this.api = api;
    this.canSeePersonal = canSeePersonal;
    this.onOpened = onOpened;
    this.code = document.getElementById("c-code");
    this.form.querySelector("fieldset.personal").hidden = !canSeePersonal;
    this._fillCodes();
    this.code.addEventListener("change", () => this._codeChanged());
    this.search = document.getElementById("c-code-search");
    this.search.addEventListener("input", () => this._fillCodes(this.search.value));
    this.search.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" && e.key !== "ArrowDown") return;
      e.preventDefault();
      if (!this.code.value && this.code.options.length > 1) {
        this.code.selectedIndex = 1;
        this._codeChanged();
      }
      this.code.focus();
    });
    // Every keystroke is kept in the tab's session storage: a reload or a crash of the page
    // mid-call gives the call back as it was typed.
    this.form.addEventListener("input", () => this._saveDraft());
    this.form.addEventListener("change", () => this._saveDraft());
    this.form.elements.casualties.addEventListener("input", () => this._checkCasualties(false));
  }

  show() {
    super.show();
    this._codeChanged();
    this.search.focus();
  }

  hide() {
    super.hide();
    this.form.reset();
    this._fillCodes();
    for (const el of this.form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    document.getElementById("c-duplicates").innerHTML = "";
    sessionStorage.removeItem(DRAFT_KEY);
  }

  _saveDraft() {
    const values = {};
    for (const el of this.form.elements) if (el.name) values[el.name] = el.value;
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify(values));
  }

  /** Reopen the call that was being typed when the page went away, if any. */
  restoreDraft() {
    let values;
    try {
      values = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? "null");
    } catch {
      values = null;
    }
    if (!values) return false;
    super.show();
    for (const [name, value] of Object.entries(values)) {
      const el = this.form.elements[name];
      if (el && "value" in el) el.value = value;
    }
    this._codeChanged();
    this._preview();
    this.code.focus();
    toast("The call you were typing is back");
    return true;
  }

  /** Casualties must be a number: "many" would be saved as nothing and escalate nothing. */
  _checkCasualties(report = true) {
    const el = this.form.elements.casualties;
    const raw = el.value.trim();
    const ok = raw === "" || /^\d+$/.test(raw);
    if (ok) el.removeAttribute("aria-invalid");
    else el.setAttribute("aria-invalid", "true");
    if (!ok && report) {
      this.error.textContent = `Casualties: "${raw}" is not a number. Type the count (best estimate, e.g. 6); words go in Type of incident.`;
      el.focus();
    }
    return ok;
  }

  /** The code list, narrowed to what matches every word typed in the search box (code, label
   * or service); one match is chosen at once, and Enter or ↓ moves to the list. */
  _fillCodes(query = "") {
    const words = query.toLowerCase().split(/[\s_]+/).filter(Boolean);
    const codes = [...this.store.codes.values()]
      .filter((c) => {
        const hay = `${c.code.replace(/_/g, " ")} ${c.label} ${c.service}`.toLowerCase();
        return words.every((w) => hay.includes(w));
      })
      .sort((a, b) => a.default_priority - b.default_priority || a.code.localeCompare(b.code));
    const keep = this.code.value;
    this.code.innerHTML =
      `<option value="">${codes.length ? `Choose a code… (${codes.length})` : "No code matches"}</option>` +
      codes.map((c) => `<option value="${esc(c.code)}">P${c.default_priority} ${esc(c.code)} — ${esc(c.label)}</option>`).join("");
    if (codes.length === 1) this.code.value = codes[0].code;
    else if (codes.some((c) => c.code === keep)) this.code.value = keep;
    if (this.code.value !== keep) this._codeChanged();
  }

  _codeChanged() {
    const c = this.store.codes.get(this.code.value);
    const info = document.getElementById("c-code-info");
    const advice = document.getElementById("c-advice");
    if (!c) {
      info.textContent = "";
      advice.innerHTML = "";
    } else {
      const first = c.levels?.[0]?.total ?? {};
      info.textContent = `${c.service} · default P${c.default_priority} · target ${clock(c.target_s)} · sends ${Object.entries(first).map(([k, v]) => `${k}×${v}`).join(", ")}`;
      advice.innerHTML = `<strong>Tell the caller:</strong><ul>${c.advice.map((a) => `<li>${esc(a)}</li>`).join("")}</ul>`;
    }
    this._duplicates();
  }

  /** Show the typed or picked point on the map, and the open incidents near it. */
  _preview() {
    const p = this._point();
    this.map.setLayers({ pick: p });
    this._duplicates();
  }

  /** Open incidents nearby of the same code (or the same service), nearest first. */
  duplicates() {
    const p = this._point();
    const c = this.store.codes.get(this.code.value);
    if (!p || !c) return [];
    return [...this.store.incidents.values()]
      .filter((i) => i.location)
      .map((i) => ({ i, d: metres(p, i.location) }))
      .filter(({ i, d }) => d <= DUPLICATE_RADIUS_M && (i.code === c.code || this.store.codes.get(i.code)?.service === c.service))
      .sort((a, b) => a.d - b.d);
  }

  _duplicates() {
    const box = document.getElementById("c-duplicates");
    const dups = this.duplicates();
    if (!dups.length) {
      box.innerHTML = "";
      return;
    }
    box.innerHTML = `<strong>Possible duplicate${dups.length > 1 ? "s" : ""}:</strong><ul>${dups
      .map(
        ({ i, d }) => `<li>${esc(i.id)} ${esc(i.code)} P${esc(i.priority)}, ${Math.round(d)} m away
          <button type="button" data-link="${esc(i.id)}">Link this contact</button></li>`,
      )
      .join("")}</ul>`;
    for (const btn of box.querySelectorAll("button[data-link]")) {
      btn.addEventListener("click", () => this.link(btn.dataset.link));
    }
  }

  _contactBody() {
    const f = this.form.elements;
    const body = { contact_id: newId("CON"), channel: f.channel.value || "phone" };
    if (this.canSeePersonal) {
      if (f.caller_name.value.trim()) body.caller_name = f.caller_name.value.trim();
      if (f.caller_phone.value.trim()) body.caller_phone = f.caller_phone.value.trim();
    }
    return body;
  }

  _methane() {
    const f = this.form.elements;
    const list = (v) => v.split(/[,;]/).map((s) => s.trim()).filter(Boolean);
    const m = { major_incident: f.major_incident.value === "yes" };
    if (f.exact_location.value.trim()) m.exact_location = f.exact_location.value.trim();
    if (f.type_of_incident.value.trim()) m.type = f.type_of_incident.value.trim();
    if (f.hazards.value.trim()) m.hazards = list(f.hazards.value);
    if (f.access.value.trim()) m.access = f.access.value.trim();
    if (f.casualties.value.trim()) m.casualties = Number.parseInt(f.casualties.value, 10);
    if (f.emergency_services.value.trim()) m.services_required = list(f.emergency_services.value);
    return m;
  }

  async _newContact() {
    const body = this._contactBody();
    await this.api.post(PATHS.contacts, body);
    return body.contact_id;
  }

  /**
   * Record this call as a further contact about an incident already open, and merge what this
   * caller said into it: more casualties, other hazards or services, a major incident declared
   * (the incident's report only ever grows here; it is edited to take anything back).
   */
  async link(incidentId) {
    this.error.textContent = "";
    if (!this._checkCasualties()) return;
    try {
      const contactId = await this._newContact();
      await this.api.post(PATHS.linkContact(incidentId), { contact_id: contactId });
      const update = this._merged(this.store.incidents.get(incidentId));
      if (update) await this.api.request("PATCH", PATHS.incident(incidentId), { body: update });
      toast(`Contact linked to ${incidentId}${update ? " and what the caller said was added" : ""}`);
      this.hide();
      this.onOpened(incidentId);
    } catch (err) {
      this._refused(err);
    }
  }

  /** The PATCH body that adds this call's METHANE (and address) to ``incident``, or null. */
  _merged(incident) {
    if (!incident) return null;
    const typed = this._methane();
    const f = this.form.elements;
    const union = (a, b) => [...new Set([...(a ?? []), ...(b ?? [])])];
    const m = {
      major_incident: Boolean(incident.major_incident || typed.major_incident),
      hazards: union(incident.hazards, typed.hazards),
      services_present: [...(incident.services_present ?? [])],
      services_required: union(incident.services_required, typed.services_required),
    };
    const type = incident.methane_type ?? typed.type;
    if (type) m.type = type;
    const access = typed.access ?? incident.access;
    if (access) m.access = access;
    if (typed.exact_location) m.exact_location = typed.exact_location;
    const casualties = Math.max(incident.casualties ?? -1, typed.casualties ?? -1);
    if (casualties >= 0) m.casualties = casualties;
    const grew =
      m.major_incident !== Boolean(incident.major_incident) ||
      m.hazards.length !== (incident.hazards ?? []).length ||
      m.services_required.length !== (incident.services_required ?? []).length ||
      (m.casualties ?? null) !== (incident.casualties ?? null) ||
      (typed.access && typed.access !== incident.access) ||
      (typed.type && !incident.methane_type) ||
      Boolean(typed.exact_location);
    const body = {};
    if (grew) body.methane = m;
    if (this.canSeePersonal && f.address.value.trim()) body.address = f.address.value.trim();
    return Object.keys(body).length ? body : null;
  }

  async submit() {
    this.error.textContent = "";
    const code = this.code.value;
    const p = this._point();
    if (!code) {
      this.error.textContent = "Incident code: choose what the call is about (type to search the list).";
      this.code.focus();
      return;
    }
    if (!p) {
      this.error.textContent = "Location: type the latitude and longitude, or pick the point on the map (Alt+P).";
      this.lat.focus();
      return;
    }
    if (!this._checkCasualties()) return;
    const f = this.form.elements;
    const body = { incident_id: newId("INC"), code, location: p, methane: this._methane() };
    if (f.priority.value) body.priority = Number(f.priority.value);
    if (this.canSeePersonal && f.address.value.trim()) body.address = f.address.value.trim();
    try {
      const contactId = await this._newContact();
      if (contactId) body.contact_id = contactId;
      const opened = await this.api.post(PATHS.incidents, body);
      const id = opened?.incident_id ?? body.incident_id;
      toast(`Incident ${id} opened`);
      this.hide();
      this.onOpened(id);
    } catch (err) {
      this._refused(err);
    }
  }
}

/**
 * A new id for a contact or incident, made here so a retried request (same Idempotency-Key,
 * same body) names the same record: PREFIX-YYMMDD-HHMMSS-xxxx (UTC, 4 random base-36 digits).
 */
export function newId(prefix) {
  const t = new Date().toISOString().replace(/[-:]/g, "");
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36).padStart(4, "0").slice(-4);
  return `${prefix}-${t.slice(2, 8)}-${t.slice(9, 15)}-${random}`;
}
