// Road closures: the list of those in force (each with Reopen) and the form that closes or slows
// the roads around a point picked on the map or typed. The engine re-solves on every change.

import { newId } from "./contact.js";
import { toast } from "./dialog.js";
import { esc, timeOfDay } from "./format.js";
import { PATHS } from "./store.js";

export class ClosurePanel {
  constructor({ store, api, map, canWrite, onLocate }) {
    this.store = store;
    this.api = api;
    this.map = map;
    this.canWrite = canWrite;
    this.onLocate = onLocate;
    this.list = document.getElementById("closures-list");
    this.form = document.getElementById("closure-form");
    this.lat = document.getElementById("r-lat");
    this.lon = document.getElementById("r-lon");
    this.radius = document.getElementById("r-radius");
    this.effect = document.getElementById("r-effect");
    this.factor = document.getElementById("r-factor");
    this.error = document.getElementById("r-error");
    this.button = document.getElementById("close-road");
    this.button.disabled = !canWrite;
    this.button.addEventListener("click", () => this.show());
    for (const el of [this.lat, this.lon, this.radius]) el.addEventListener("input", () => this._preview());
    this.effect.addEventListener("change", () => this._effectChanged());
    document.getElementById("r-pick").addEventListener("click", () => this.pick(true));
    document.getElementById("r-cancel").addEventListener("click", () => this.hide());
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
    return !this.form.hidden;
  }

  show() {
    if (!this.canWrite) return;
    this.form.hidden = false;
    this.error.textContent = "";
    this._effectChanged();
    this.form.scrollIntoView({ block: "nearest" });
    this.pick(true);
  }

  hide() {
    this.pick(false);
    this.form.hidden = true;
    this.form.reset();
    this.map.setLayers({ draft: null });
  }

  /** Start or stop taking the centre from the next click on the map. */
  pick(on) {
    this.map.setPicking(on, "for the centre of the closure", this);
    if (on) this.map.canvas.focus();
    else if (this.open && document.activeElement === this.map.canvas) this.lat.focus(); // type it instead
  }

  picked(p) {
    this.lat.value = p.lat.toFixed(6);
    this.lon.value = p.lon.toFixed(6);
    this.pick(false);
    this._preview();
    this.radius.focus();
  }

  _effectChanged() {
    const slowed = this.effect.value === "slowed";
    this.factor.disabled = !slowed;
    this.factor.required = slowed;
  }

  _centre() {
    const lat = Number.parseFloat(this.lat.value);
    const lon = Number.parseFloat(this.lon.value);
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
    return { lat, lon };
  }

  _preview() {
    const centre = this._centre();
    const radius = Number.parseFloat(this.radius.value);
    this.map.setLayers({ draft: centre && radius > 0 ? { centre, radius_m: radius, draft: true } : null });
  }

  async submit() {
    this.error.textContent = "";
    const centre = this._centre();
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
      this.error.textContent = err.field ? `${err.field}: ${err.message}` : err.message;
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
