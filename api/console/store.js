// The console's picture of the centre: a read-through copy of what the API says, refreshed
// whenever the event stream reports a change. The API stays the single source of truth.

export const PATHS = {
  codes: "/v1/codes",
  map: "/v1/region/map",
  basemap: "/v1/region/basemap",
  snap: "/v1/region/snap",
  routes: "/v1/routes",
  whoami: "/v1/whoami",
  incidents: "/v1/incidents",
  incident: (id) => `/v1/incidents/${encodeURIComponent(id)}`,
  timeline: (id) => `/v1/incidents/${encodeURIComponent(id)}/timeline`,
  accept: (id) => `/v1/incidents/${encodeURIComponent(id)}/accept`,
  override: (id) => `/v1/incidents/${encodeURIComponent(id)}/override`,
  escalate: (id) => `/v1/incidents/${encodeURIComponent(id)}/escalate`,
  downgrade: (id) => `/v1/incidents/${encodeURIComponent(id)}/downgrade`,
  queries: (id) => `/v1/incidents/${encodeURIComponent(id)}/queries`,
  agencies: (id) => `/v1/incidents/${encodeURIComponent(id)}/agencies`,
  notes: (id) => `/v1/incidents/${encodeURIComponent(id)}/notes`,
  complaints: (id) => `/v1/incidents/${encodeURIComponent(id)}/complaints`,
  close: (id) => `/v1/incidents/${encodeURIComponent(id)}/close`,
  linkContact: (id) => `/v1/incidents/${encodeURIComponent(id)}/contacts`,
  personal: (seq) => `/v1/log/${encodeURIComponent(seq)}/personal`,
  log: "/v1/log",
  coaching: "/v1/coaching",
  handovers: "/v1/shift/handovers",
  handoverAck: (id) => `/v1/shift/handovers/${encodeURIComponent(id)}/acknowledge`,
  verify: "/v1/log/verify",
  contacts: "/v1/contacts",
  units: "/v1/units",
  unitStatus: (id) => `/v1/units/${encodeURIComponent(id)}/status`,
  unitAck: (id) => `/v1/units/${encodeURIComponent(id)}/acknowledge`,
  unitArrive: (id) => `/v1/units/${encodeURIComponent(id)}/arrive`,
  alertsAcknowledged: "/v1/alerts/acknowledged",
  alertAck: (id) => `/v1/alerts/${encodeURIComponent(id)}/acknowledge`,
  recommendations: "/v1/recommendations",
  relocations: "/v1/relocations",
  relocationAccept: (id) => `/v1/relocations/${encodeURIComponent(id)}/accept`,
  relocationDecline: (id) => `/v1/relocations/${encodeURIComponent(id)}/decline`,
  closures: "/v1/closures",
  closure: (id) => `/v1/closures/${encodeURIComponent(id)}`,
  events: "/v1/events",
};

/** Roles that may see personal data (caller details, addresses, free text). */
export const PERSONAL_DATA_ROLES = new Set(["dispatcher", "supervisor", "auditor"]);
/** Roles that may read incident timelines (which can carry personal data on request). */
export const TIMELINE_ROLES = new Set(["dispatcher", "supervisor", "auditor"]);
/** Roles that handle incidents from the console. */
export const OPERATOR_ROLES = new Set(["dispatcher", "supervisor"]);
/** Roles that may close and reopen roads (the API also lets integrators feed closures). */
export const CLOSURE_ROLES = new Set(["dispatcher", "supervisor", "integrator"]);

export class Store {
  constructor(api) {
    this.api = api;
    this.codes = new Map();
    this.capabilities = {};
    this.incidents = new Map();
    this.units = new Map();
    this.recommendation = { assignments: [], unmet: [] };
    this.relocations = new Map(); // unit id -> pending move-up {to_station, to, explanation…}
    this.closures = [];
    this.alertAcks = new Map(); // alert id -> {actor, at}
    this.version = null;
    this.listeners = new Set();
    this._pending = null;
    this._dirty = false;
    this.onError = null;
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  _emit(what) {
    for (const fn of this.listeners) fn(what);
  }

  async loadCodes() {
    const table = await this.api.get(PATHS.codes);
    this.capabilities = table.capabilities || {};
    for (const c of table.codes) this.codes.set(c.code, c);
  }

  /** Re-read the live picture (incidents, units, recommendation, closures, alerts taken on)
   * in one go. */
  async refresh() {
    const moves = this.api.get(PATHS.relocations).catch(() => null);
    const [incidents, units, rec, closures, acks] = await Promise.all([
      this.api.get(PATHS.incidents),
      this.api.get(PATHS.units),
      this.api.get(PATHS.recommendations),
      this.api.get(PATHS.closures).catch(() => null),
      this.api.get(PATHS.alertsAcknowledged).catch(() => null),
    ]);
    if (acks) this.alertAcks = new Map(acks.acknowledged.map((a) => [a.alert_id, a]));
    this.incidents = new Map(listOf(incidents, "incidents").map((i) => [i.id, normIncident(i, this.codes)]));
    this.units = new Map(listOf(units, "units").map((u) => [u.id, normUnit(u)]));
    this.recommendation = normRecommendation(rec);
    const relocations = await moves;
    this.relocations = new Map((relocations?.moves ?? []).map((m) => [m.unit, m]));
    if (closures) this.closures = listOf(closures, "closures");
    this.version = incidents?.version ?? rec?.version ?? this.version;
    this._emit("state");
  }

  /**
   * Coalesce bursts of events into few refreshes (an accept emits several events at once).
   * The promise settles after a refresh that started after this call, so what the caller just
   * wrote is in the picture when it resolves.
   */
  scheduleRefresh() {
    this._dirty = true;
    if (!this._pending) this._pending = this._refreshWhileDirty();
    return this._pending;
  }

  async _refreshWhileDirty() {
    await new Promise((r) => setTimeout(r, 30));
    try {
      while (this._dirty) {
        this._dirty = false;
        try {
          await this.refresh();
        } catch (err) {
          // Keep the last good picture; the stream's reconnect asks for a refresh again.
          this.onError?.(err);
        }
      }
    } finally {
      this._pending = null;
    }
  }

  assignmentsFor(incidentId) {
    return this.recommendation.assignments.filter((a) => a.incident === incidentId);
  }

  unmetFor(incidentId) {
    return this.recommendation.unmet.filter((u) => u.incident === incidentId);
  }

  unitsAt(incidentId) {
    return [...this.units.values()].filter((u) => u.incident === incidentId);
  }

  unitName(id) {
    const u = this.units.get(id);
    return u?.call_sign || id;
  }

  /** Open incidents by priority (1 first), then age (oldest first). */
  queue() {
    return [...this.incidents.values()].sort(
      (a, b) => a.priority - b.priority || Date.parse(a.opened_at) - Date.parse(b.opened_at) || cmp(a.id, b.id),
    );
  }
}

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function listOf(body, key) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body[key])) return body[key];
  if (body && Array.isArray(body.items)) return body.items;
  return [];
}

function loc(value) {
  if (!value) return null;
  if (Array.isArray(value)) return { lat: value[0], lon: value[1] };
  return { lat: Number(value.lat), lon: Number(value.lon) };
}

function normIncident(i, codes) {
  const code = codes.get(i.code);
  return {
    ...i,
    location: loc(i.location),
    target_s: i.target_s ?? code?.target_s ?? null,
    label: i.label ?? code?.label ?? i.code,
    level: i.level ?? 1,
  };
}

function normUnit(u) {
  return { ...u, location: loc(u.location), home: loc(u.home), relocating_position: loc(u.relocating_position) };
}

function normRecommendation(rec) {
  const r = rec?.recommendation ?? rec ?? {};
  return {
    assignments: r.assignments ?? [],
    unmet: r.unmet ?? [],
    status: r.status ?? null,
    at: r.at ?? null,
  };
}
