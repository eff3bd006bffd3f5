// What the forms that take a point have in common (a new contact, a road closure, an incident
// edit): Lat/Lon typed or picked on the map, Pick and Cancel buttons, an error line, show/hide.
// Their elements are found by id: `${prefix}-lat`, `-lon`, `-error`, `-pick` and `-cancel`.

import { ask } from "./dialog.js";
import { humanError } from "./format.js";
import { distanceText, direction, outsideMessage, whereIs } from "./outside.js";

export class PickingForm {
  /**
   * @param {object} o
   * @param {object} o.map the RegionMap that hands a picked point to `picked`
   * @param {HTMLElement} o.section shown and hidden as the form opens and closes
   * @param {HTMLFormElement} o.form its submit runs `submit()`
   * @param {string} o.prefix the ids' prefix
   * @param {string} o.purpose what the point is for, said on the map while picking
   * @param {string} o.layer the map layer `_preview` draws on, cleared on hide
   * @param {HTMLElement} o.next the field that takes the focus once a point is picked
   * @param {boolean} o.typeInstead whether stopping a pick from the map moves the focus to Lat
   * @param {boolean} [o.placesOnRoad] whether the point must lie near the region's roads (an
   *   incident's does; then a point outside is said in words with a way out)
   */
  constructor({ map, section, form, prefix, purpose, layer, next, typeInstead, placesOnRoad = true }) {
    this.map = map;
    this.section = section;
    this.form = form;
    this.purpose = purpose;
    this.layer = layer;
    this.next = next;
    this.typeInstead = typeInstead;
    this.lat = document.getElementById(`${prefix}-lat`);
    this.lon = document.getElementById(`${prefix}-lon`);
    this.error = document.getElementById(`${prefix}-error`);
    // Said in words when the point lies outside the region's map, with a way out.
    this.outside = document.createElement("div");
    this.outside.className = "outside";
    this.outside.id = `${prefix}-outside`;
    this.outside.setAttribute("role", "alert");
    this.outside.hidden = true;
    this.error.after(this.outside);
    this._checked = 0; // which check of the point is the latest (answers can arrive out of order)
    this.placesOnRoad = placesOnRoad;
    for (const el of [this.lat, this.lon]) {
      el.addEventListener("input", () => this._preview());
      el.addEventListener("change", () => this.checkInside());
    }
    document.getElementById(`${prefix}-pick`).addEventListener("click", () => this.pick(true));
    document.getElementById(`${prefix}-cancel`).addEventListener("click", () => this.requestHide());
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  /** Whether the next click on the map is this form's point. */
  get picking() {
    return this.map.pickOwner === this;
  }

  get open() {
    return !this.section.hidden;
  }

  show() {
    this.section.hidden = false;
    this.error.textContent = "";
    this.outside.hidden = true;
  }

  /** Whether anything was typed or chosen since the form opened (what a discard would lose). */
  dirty() {
    return [...this.form.elements].some((el) => {
      if (el.tagName === "SELECT") return [...el.options].some((o) => o.selected !== o.defaultSelected);
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      return "value" in el && el.tagName !== "BUTTON" && el.value !== el.defaultValue;
    });
  }

  /** Close the form, asking first when that would discard what was typed. */
  async requestHide() {
    if (this.dirty()) {
      const title = this.section.querySelector("h2, h3")?.textContent ?? "this form";
      const sure = await ask(`Discard ${title.toLowerCase()}?`, [], {
        ok: "Discard",
        text: "What was typed in the form will be lost.",
      });
      if (!sure) return;
    }
    this.hide();
  }

  hide() {
    this.pick(false);
    this.section.hidden = true;
    this.map.setLayers({ [this.layer]: null });
  }

  /** Start or stop taking the point from the next click on the map. */
  pick(on) {
    this.map.setPicking(on, this.purpose, this);
    if (on) this.map.canvas.focus();
    else if (this.typeInstead && this.open && document.activeElement === this.map.canvas) this.lat.focus(); // type it instead
  }

  /** A point chosen on the map. */
  picked(p) {
    this.lat.value = p.lat.toFixed(6);
    this.lon.value = p.lon.toFixed(6);
    this.pick(false);
    this._preview();
    this.next.focus();
    this.checkInside();
  }

  /**
   * Tell the call-taker, in words, when the point lies outside the region's map: how far the
   * nearest road is, that the call may belong to another centre, and a button that places the
   * point at that road. Returns whether it was outside.
   */
  async checkInside() {
    const p = this._point();
    const turn = ++this._checked;
    if (!p || !this.api || !this.placesOnRoad) {
      this.outside.hidden = true;
      return false;
    }
    const snap = await whereIs(this.api, p);
    if (turn !== this._checked) return false; // the point changed meanwhile
    if (!snap || snap.inside) {
      this.outside.hidden = true;
      return false;
    }
    const text = document.createElement("p");
    text.textContent = outsideMessage(snap, p, this.map.regionName);
    const use = document.createElement("button");
    use.type = "button";
    use.textContent = `Place at the nearest road (${distanceText(snap.distance_m)} ${direction(p, snap.nearest)})`;
    use.addEventListener("click", () => {
      this.lat.value = snap.nearest.lat.toFixed(6);
      this.lon.value = snap.nearest.lon.toFixed(6);
      this.outside.hidden = true;
      this.error.textContent = "";
      this._preview();
      this.next.focus();
    });
    this.outside.replaceChildren(text, use);
    this.outside.hidden = false;
    return true;
  }

  /** The typed point, or null unless both are numbers in range. */
  _point() {
    const lat = Number.parseFloat(this.lat.value);
    const lon = Number.parseFloat(this.lon.value);
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { lat, lon };
  }

  /** Say why the server refused the request in the form's words, and mark the field it
   * names; what was typed stays in the form. */
  async _refused(err) {
    // A point off the map is said in words with a way out, not as the server's technical line.
    if (/location/.test(String(err.field ?? "")) && err.status === 422 && (await this.checkInside())) {
      this.error.textContent = "";
      this.outside.querySelector("button")?.focus();
      return;
    }
    const labels = {};
    for (const label of this.form.querySelectorAll("label")) {
      const input = label.control;
      if (input?.name) labels[input.name] = label.firstChild?.textContent?.trim() || input.name;
    }
    this.error.textContent = humanError(err, labels);
    const name = err.field ? String(err.field).split(".").pop() : null;
    const bad = name && this.form.elements[name];
    if (bad?.focus) {
      bad.setAttribute("aria-invalid", "true");
      bad.focus();
    }
  }
}
