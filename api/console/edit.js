// Editing an open incident: location (typed or picked on the map), code, priority, details and
// the METHANE report. Only what the dispatcher changed is sent; the engine re-solves at once.

import { toast } from "./dialog.js";
import { esc } from "./format.js";
import { PickingForm } from "./picking_form.js";
import { PATHS } from "./store.js";

const METHANE_TEXT = ["exact_location", "type", "access"];
const METHANE_LISTS = ["hazards", "services_present", "services_required"];

export class IncidentEditForm extends PickingForm {
  constructor({ store, api, map, canSeePersonal, onSaved }) {
    const form = document.getElementById("edit-form");
    super({
      map,
      section: document.getElementById("edit"),
      form,
      prefix: "e",
      purpose: "for the incident's new location",
      layer: "pick",
      next: form.elements.priority,
      typeInstead: true,
    });
    this.store = store;
    this.api = api;
    this.onSaved = onSaved;
    this.id = null;
    this.before = null; // the form's values when it was opened, to send only what changed
    this.form.querySelector("fieldset.personal").hidden = !canSeePersonal;
    this.canSeePersonal = canSeePersonal;
    const codes = [...store.codes.values()].sort((a, b) => a.code.localeCompare(b.code));
    this.form.elements.code.innerHTML = codes
      .map((c) => `<option value="${esc(c.code)}">${esc(c.code)} — ${esc(c.label)}</option>`)
      .join("");
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
    super.show();
    this.section.scrollIntoView({ block: "nearest" });
    this._preview();
    f.priority.focus();
  }

  hide() {
    super.hide();
    this.id = null;
  }

  _preview() {
    const p = this._point();
    this.map.setLayers({ pick: p });
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
      this._refused(err);
    }
  }
}

class FormError extends Error {
  constructor(message, element) {
    super(message);
    this.element = element;
  }
}
