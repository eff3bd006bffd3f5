// Editing an open incident: location (typed or picked on the map), code, priority, details and
// the METHANE report. Only what the dispatcher changed is sent; the engine re-solves at once.

import { toast } from "./dialog.js";
import { esc } from "./format.js";
import { PATHS } from "./store.js";

const METHANE_TEXT = ["exact_location", "type", "access"];
const METHANE_LISTS = ["hazards", "services_present", "services_required"];

export class IncidentEditForm {
  constructor({ store, api, map, canSeePersonal, onSaved }) {
    this.store = store;
    this.api = api;
    this.map = map;
    this.onSaved = onSaved;
    this.section = document.getElementById("edit");
    this.form = document.getElementById("edit-form");
    this.lat = document.getElementById("e-lat");
    this.lon = document.getElementById("e-lon");
    this.error = document.getElementById("e-error");
    this.id = null;
    this.before = null; // the form's values when it was opened, to send only what changed
    this.form.querySelector("fieldset.personal").hidden = !canSeePersonal;
    this.canSeePersonal = canSeePersonal;
    const codes = [...store.codes.values()].sort((a, b) => a.code.localeCompare(b.code));
    this.form.elements.code.innerHTML = codes
      .map((c) => `<option value="${esc(c.code)}">${esc(c.code)} — ${esc(c.label)}</option>`)
      .join("");
    for (const el of [this.lat, this.lon]) el.addEventListener("input", () => this._preview());
    document.getElementById("e-pick").addEventListener("click", () => this.pick(true));
    document.getElementById("e-cancel").addEventListener("click", () => this.hide());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  get open() {
    return !this.section.hidden;
  }

  get picking() {
    return this.map.pickOwner === this;
  }

  /** Open the form on an incident, filled with what is known of it (personal parts if read). */
  show(incident, personal = {}) {
    this.id = incident.id;
    const f = this.form.elements;
    document.getElementById("edit-title").textContent = `Edit ${incident.id}`;
    this.lat.value = incident.location ? incident.location.lat.toFixed(6) : "";
    this.lon.value = incident.location ? incident.location.lon.toFixed(6) : "";
    f.code.value = incident.code;
    f.priority.value = String(incident.priority);
    f.address.value = personal.address ?? "";
    f.details.value = personal.details ?? "";
    f.major_incident.value = incident.major_incident ? "yes" : "";
    f.exact_location.value = personal.exact_location ?? "";
    f.type.value = incident.methane_type ?? "";
    f.access.value = incident.access ?? "";
    f.casualties.value = incident.casualties ?? "";
    f.hazards.value = (incident.hazards ?? []).join(", ");
    f.services_present.value = (incident.services_present ?? []).join(", ");
    f.services_required.value = (incident.services_required ?? []).join(", ");
    this.before = this._values();
    this.error.textContent = "";
    this.section.hidden = false;
    this.section.scrollIntoView({ block: "nearest" });
    this._preview();
    f.priority.focus();
  }

  hide() {
    this.pick(false);
    this.section.hidden = true;
    this.id = null;
    this.map.setLayers({ pick: null });
  }

  pick(on) {
    this.map.setPicking(on, "for the incident's new location", this);
    if (on) this.map.canvas.focus();
    else if (this.open && document.activeElement === this.map.canvas) this.lat.focus(); // type it instead
  }

  picked(p) {
    this.lat.value = p.lat.toFixed(6);
    this.lon.value = p.lon.toFixed(6);
    this.pick(false);
    this._preview();
    this.form.elements.priority.focus();
  }

  _preview() {
    const p = this._point();
    this.map.setLayers({ pick: p });
  }

  _point() {
    const lat = Number.parseFloat(this.lat.value);
    const lon = Number.parseFloat(this.lon.value);
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { lat, lon };
  }

  _values() {
    const f = this.form.elements;
    const out = {};
    for (const name of ["code", "priority", "address", "details", "major_incident", "casualties", ...METHANE_TEXT, ...METHANE_LISTS]) {
      out[name] = f[name].value.trim();
    }
    out.lat = this.lat.value.trim();
    out.lon = this.lon.value.trim();
    return out;
  }

  /** The PATCH body: only the fields that changed (METHANE goes whole, as it replaces the report). */
  _body() {
    const now = this._values();
    const changed = (name) => now[name] !== this.before[name];
    const body = {};
    if (changed("lat") || changed("lon")) {
      const p = this._point();
      if (!p) throw new FormError("location: type lat and lon, or pick a point on the map", this.lat);
      body.location = p;
    }
    if (changed("code")) body.code = now.code;
    if (changed("priority")) body.priority = Number(now.priority);
    if (this.canSeePersonal && changed("address") && now.address) body.address = now.address;
    if (this.canSeePersonal && changed("details") && now.details) body.details = now.details;
    const methaneFields = ["major_incident", "casualties", ...METHANE_TEXT, ...METHANE_LISTS];
    if (methaneFields.some(changed)) {
      const list = (v) => v.split(/[,;]/).map((s) => s.trim()).filter(Boolean);
      const m = { major_incident: now.major_incident === "yes" };
      for (const name of METHANE_TEXT) if (now[name]) m[name] = now[name];
      for (const name of METHANE_LISTS) m[name] = list(now[name]);
      if (now.casualties) {
        const n = Number(now.casualties);
        if (!Number.isInteger(n) || n < 0) {
          throw new FormError("methane.casualties: a whole number, 0 or more", this.form.elements.casualties);
        }
        m.casualties = n;
      }
      body.methane = m;
    }
    return body;
  }

  async submit() {
    this.error.textContent = "";
    const id = this.id;
    let body;
    try {
      body = this._body();
    } catch (err) {
      if (!(err instanceof FormError)) throw err;
      this.error.textContent = err.message;
      err.element.focus();
      return;
    }
    if (!Object.keys(body).length) {
      this.error.textContent = "Nothing changed.";
      return;
    }
    try {
      await this.api.request("PATCH", PATHS.incident(id), { body });
      toast(`${id} updated: ${Object.keys(body).join(", ")}`);
      this.hide();
      this.onSaved(id);
    } catch (err) {
      this.error.textContent = err.field ? `${err.field}: ${err.message}` : err.message;
    }
  }
}

class FormError extends Error {
  constructor(message, element) {
    super(message);
    this.element = element;
  }
}
