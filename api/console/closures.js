// Road closures: the list of those in force (each with Reopen) and the form that closes or slows
// the roads around a point picked on the map or typed. The engine re-solves on every change.

import { newId } from "./contact.js";
import { toast } from "./dialog.js";
import { esc, timeOfDay } from "./format.js";
import { PickingForm } from "./picking_form.js";
import { PATHS } from "./store.js";

export class ClosurePanel extends PickingForm {
  constructor({ store, api, map, canWrite, onLocate }) {
    const form = document.getElementById("closure-form");
    const radius = document.getElementById("r-radius");
    super({
      map,
      section: form,
      form,
      prefix: "r",
      purpose: "for the centre of the closure",
      layer: "draft",
      next: radius,
      typeInstead: true,
      placesOnRoad: false, // a closure's circle may reach the roads from a centre off them
    });
    this.store = store;
    this.api = api;
    this.canWrite = canWrite;
    this.onLocate = onLocate;
    this.list = document.getElementById("closures-list");
    this.radius = radius;
    this.effect = document.getElementById("r-effect");
    this.factor = document.getElementById("r-factor");
    this.button = document.getElementById("close-road");
    this.button.disabled = !canWrite;
    this.button.addEventListener("click", () => this.show());
    this.radius.addEventListener("input", () => this._preview());
    this.effect.addEventListener("change", () => this._effectChanged());
  }

  show() {
    if (!this.canWrite) return;
    super.show();
    this._effectChanged();
    this.form.scrollIntoView({ block: "nearest" });
    this.pick(true);
  }

  hide() {
    super.hide();
    this.form.reset();
  }

  _effectChanged() {
    const slowed = this.effect.value === "slowed";
    this.factor.disabled = !slowed;
    this.factor.required = slowed;
  }

  _preview() {
    const centre = this._point();
    const radius = Number.parseFloat(this.radius.value);
    this.map.setLayers({ draft: centre && radius > 0 ? { centre, radius_m: radius, draft: true } : null });
  }

  async submit() {
    this.error.textContent = "";
    const centre = this._point();
    const radius = Number.parseFloat(this.radius.value);
    const reason = this.form.elements.reason.value.trim();
    const fail = (message, el) => {
      this.error.textContent = message;
      el.focus();
    };
    if (!centre) return fail("centre: type lat and lon, or pick a point on the map", this.lat);
    if (!(radius > 0 && radius <= 50000)) return fail("radius_m: between 1 and 50000 metres", this.radius);
    const body = { closure_id: newId("RC"), centre, radius_m: radius, reason: reason || null };
    if (this.effect.value === "slowed") {
      const factor = Number.parseFloat(this.factor.value);
      if (!(factor > 1)) return fail("factor: travel times must be multiplied by more than 1", this.factor);
      body.factor = factor;
    }
    if (!reason) return fail("reason: say why the roads are closed", this.form.elements.reason);
    try {
      await this.api.post(PATHS.closures, body);
      toast(body.factor ? `Roads slowed ×${body.factor} (${body.closure_id})` : `Roads closed (${body.closure_id})`);
      this.hide();
      this.button.focus();
      await this.store.scheduleRefresh();
    } catch (err) {
      this._refused(err);
    }
  }

  async reopen(id) {
    try {
      await this.api.request("DELETE", PATHS.closure(id));
      toast(`Roads reopened (${id})`);
      await this.store.scheduleRefresh();
    } catch (err) {
      toast(`Reopen failed: ${err.message}`, { bad: true });
    }
  }

  /** The closures in force, oldest first, each with where, what, why and a Reopen button. */
  render() {
    const closures = [...this.store.closures].sort((a, b) => Date.parse(a.since) - Date.parse(b.since) || (a.id < b.id ? -1 : 1));
    document.getElementById("closures-count").textContent = `(${closures.length})`;
    document.getElementById("closures-empty").hidden = closures.length > 0;
    this.list.innerHTML = closures
      .map((c) => {
        const effect = c.factor ? `slowed ×${Number(c.factor).toFixed(1)}` : "closed";
        const area = c.radius_m ? `${Math.round(c.radius_m)} m` : `${(c.polygon ?? []).length}-point area`;
        return `<li data-id="${esc(c.id)}"${c.factor ? ' class="slowed"' : ""}>
          <button type="button" class="locate" aria-label="${esc(`Show closure ${c.id} (${effect}) on the map`)}">${esc(effect)}</button>
          <span>${esc(area)} · since ${esc(timeOfDay(c.since))}</span>
          ${c.reason ? `<div class="closure-reason">${esc(c.reason)}</div>` : ""}
          <div class="incident-id">${esc(c.id)}</div>
          ${this.canWrite ? `<button type="button" data-reopen="${esc(c.id)}" aria-label="${esc(`Reopen ${c.id}`)}">Reopen</button>` : ""}
        </li>`;
      })
      .join("");
    for (const btn of this.list.querySelectorAll("button[data-reopen]")) {
      btn.addEventListener("click", () => this.reopen(btn.dataset.reopen));
    }
    for (const btn of this.list.querySelectorAll("button.locate")) {
      const c = closures.find((x) => x.id === btn.closest("li").dataset.id);
      const at = c?.centre ?? c?.polygon?.[0];
      btn.addEventListener("click", () => at && this.onLocate(at));
    }
  }
}
