// The contact form: code from the code table (with its approved caller advice), location typed
// or picked on the map, duplicate detection against open incidents nearby, then open or link.

import { toast } from "./dialog.js";
import { clock, esc, metres } from "./format.js";
import { PickingForm } from "./picking_form.js";
import { PATHS } from "./store.js";

/** Open incidents of the same code (or service) within this distance are offered for linking. */
export const DUPLICATE_RADIUS_M = 400;

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
  }

  show() {
    super.show();
    this._codeChanged();
    this.code.focus();
  }

  hide() {
    super.hide();
    this.form.reset();
    document.getElementById("c-duplicates").innerHTML = "";
  }

  _fillCodes() {
    const codes = [...this.store.codes.values()].sort(
      (a, b) => a.default_priority - b.default_priority || a.code.localeCompare(b.code),
    );
    this.code.innerHTML =
      '<option value="">Choose a code…</option>' +
      codes.map((c) => `<option value="${esc(c.code)}">P${c.default_priority} ${esc(c.code)} — ${esc(c.label)}</option>`).join("");
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

  /** Record this call as a further contact about an incident already open. */
  async link(incidentId) {
    try {
      const contactId = await this._newContact();
      await this.api.post(PATHS.linkContact(incidentId), { contact_id: contactId });
      toast(`Contact linked to ${incidentId}`);
      this.hide();
      this.onOpened(incidentId);
    } catch (err) {
      this.error.textContent = err.message;
    }
  }

  async submit() {
    this.error.textContent = "";
    const code = this.code.value;
    const p = this._point();
    if (!code) {
      this.error.textContent = "code: choose an incident code";
      this.code.focus();
      return;
    }
    if (!p) {
      this.error.textContent = "location: type lat and lon, or pick a point on the map";
      this.lat.focus();
      return;
    }
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
