// Routes along the roads (GET /v1/routes): the recommended units' and the dispatched units'
// fastest paths to their incidents, fetched once per version of the picture and handed to the
// map as lines that follow the streets. Until a route arrives the map draws the line straight.

import { PATHS } from "./store.js";

export class RouteLines {
  /**
   * @param {import("./api.js").Api} api
   * @param {() => void} onChange called when new routes have arrived (redraw the map)
   */
  constructor(api, onChange) {
    this.api = api;
    this.onChange = onChange;
    this.paths = new Map(); // "unit|incident" -> [[lon, lat], ...]
    this.version = null; // the picture's version the paths were asked for
    this._want = null;
    this._loading = null;
  }

  /** Ask for the routes of the picture at ``version``: one request at a time, the latest wins. */
  refresh(version) {
    if (version === null || version === undefined || version === this._want) return;
    this._want = version;
    if (!this._loading) this._loading = this._load().finally(() => (this._loading = null));
  }

  async _load() {
    while (this._want !== this.version) {
      const want = this._want;
      try {
        const data = await this.api.get(PATHS.routes);
        this.paths = new Map(data.routes.map((r) => [`${r.unit_id}|${r.incident_id}`, r.coordinates]));
      } catch {
        // Keep the lines straight (or as last drawn): the map must not fail over a route.
      }
      this.version = want;
      this.onChange();
    }
  }

  /** The road path from a unit to an incident, or null while none is known. */
  pathFor(unitId, incidentId) {
    return this.paths.get(`${unitId}|${incidentId}`) ?? null;
  }
}
