// The console's entry point: sign in, load the region and the picture, follow the event stream,
// and wire the panels, the map and the keyboard together.

import { Api, ApiError, storeKey, storedKey } from "./api.js";
import { AlertPanel } from "./alerts.js";
import { ClosurePanel } from "./closures.js";
import { ContactForm } from "./contact.js";
import { IncidentDetail } from "./detail.js";
import { ask, toast } from "./dialog.js";
import { IncidentEditForm } from "./edit.js";
import { HandoverPanel } from "./handover.js";
import { HistoryPanel } from "./history.js";
import { clock, humanError } from "./format.js";
import { RegionMap } from "./map.js";
import { RouteLines } from "./routes.js";
import { renderQueue, renderUnits, tickClocks } from "./panels.js";
import { UNIT_STATUSES, UNIT_STATUS_STYLE } from "./styles.js";
import { SupervisorView } from "./supervisor.js";
import { CLOSURE_ROLES, OPERATOR_ROLES, PATHS, PERSONAL_DATA_ROLES, Store, TIMELINE_ROLES } from "./store.js";

const $ = (id) => document.getElementById(id);

/** How often the console checks that the server still answers (also on every stream drop). */
const OFFLINE_PROBE_MS = 3000;

/** Every button and selector that would write, disabled (or given back) as the server goes. */
function disableActions(off) {
  const writers = document.querySelectorAll(
    "main button:not(.locate):not([data-keep]), main select[data-unit], #new-contact, #hand-over, #handover button, #prompt-form button[type=submit]",
  );
  for (const el of writers) {
    if (off) {
      if (!el.disabled) el.dataset.offlineDisabled = "true";
      el.disabled = true;
    } else if (el.dataset.offlineDisabled) {
      delete el.dataset.offlineDisabled;
      el.disabled = false;
    }
  }
}

/** Timings the browser tests and the curious can read: page ready, last event applied. */
window.consoleMetrics = { readyMs: null, events: 0, lastEvent: null };

async function signIn() {
  const dialog = $("login");
  const form = $("login-form");
  const key = storedKey();
  if (key) {
    try {
      return { api: new Api(key), me: await whoAmI(new Api(key)) };
    } catch {
      storeKey(null);
    }
  }
  dialog.showModal();
  $("login-key").focus();
  return new Promise((resolve) => {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const candidate = $("login-key").value.trim();
      const api = new Api(candidate);
      try {
        const me = await whoAmI(api);
        storeKey(candidate);
        dialog.close();
        resolve({ api, me });
      } catch (err) {
        $("login-error").textContent =
          err instanceof ApiError && err.status === 401 ? "That key is not valid." : err.message;
      }
    });
    dialog.addEventListener("cancel", (e) => e.preventDefault());
  });
}

async function whoAmI(api) {
  const me = await api.get(PATHS.whoami);
  return { name: me.name, role: me.role, personal: me.personal_data ?? PERSONAL_DATA_ROLES.has(me.role) };
}

async function main() {
  const started = performance.now();
  const { api, me } = await signIn();
  const canOperate = OPERATOR_ROLES.has(me.role);
  const canSeePersonal = Boolean(me.personal);
  document.body.dataset.role = me.role;
  $("whoami").textContent = `${me.name} · ${me.role}`;
  $("new-contact").disabled = !canOperate;
  $("sign-out").addEventListener("click", () => {
    storeKey(null);
    window.location.reload();
  });

  api.onUnauthorized = () => {
    storeKey(null);
    window.location.reload();
  };
  const store = new Store(api);
  let selected = null;
  const changedUnits = new Set();

  const map = new RegionMap($("map"), {
    onPick: (p, form) => form?.picked(p),
    onSelect: (kind, id) => {
      if (kind === "incident") select(id);
      else locateUnit(id);
    },
  });

  // Lines along the roads: asked for once per version of the picture, drawn when they arrive.
  const routes = new RouteLines(api, () => drawMap());

  // /ready says (without a key) whether the server has a region to draw at all.
  const served = await fetch("/ready").then((r) => r.json()).catch(() => ({}));
  const [region] = await Promise.all([
    served.region
      ? api.get(PATHS.map).catch((err) => {
          toast(`Map: ${err.message}`, { bad: true });
          return null;
        })
      : null,
    store.loadCodes(),
  ]);
  if (region) {
    map.setRegion(region);
    if (map.hasBasemap) {
      api.get(PATHS.basemap).then((c) => map.setBasemap(c), (err) => toast(`Street names: ${err.message}`, { bad: true }));
    }
    $("region-name").textContent = `· ${region.name}`;
  } else {
    $("region-name").textContent = "· no region (straight-line ETAs, no map)";
  }

  const detail = new IncidentDetail({
    store,
    api,
    canOperate,
    canSeePersonal,
    canReadTimeline: TIMELINE_ROLES.has(me.role),
    onEdit: (incident, personal) => edit.show(incident, personal),
  });
  const edit = new IncidentEditForm({
    store,
    api,
    map,
    canSeePersonal,
    onSaved: (id) => store.scheduleRefresh().then(() => detail.loadTimeline()).then(() => $(`detail`).focus()),
  });
  const closures = new ClosurePanel({
    store,
    api,
    map,
    canWrite: CLOSURE_ROLES.has(me.role),
    onLocate: (p) => map.centreOn(p.lat, p.lon),
  });
  const history = new HistoryPanel({
    api,
    canSeePersonal,
    canReadTimeline: TIMELINE_ROLES.has(me.role),
    formatEntry: (e) => detail._entry(e, { purpose: null }),
  });
  const handover = new HandoverPanel({ api, store, me, canOperate });
  const alerts = new AlertPanel({ store, api, canOperate, onSelect: (id) => select(id) });
  const contact = new ContactForm({
    store,
    api,
    map,
    canSeePersonal,
    onOpened: (id) => store.scheduleRefresh().then(() => {
      detail.workOn(id); // the call-taker sees the caller's name and number on it at once
      showDetail(id);
    }),
  });

  /** After a call: the incident's title and its actions in view, and the focus on them. */
  function showDetail(id) {
    select(id);
    const el = $("detail");
    el.scrollIntoView({ block: "start" });
    el.focus({ preventScroll: true });
  }

  function select(id) {
    if (edit.open && edit.id !== id) edit.hide();
    selected = id;
    map.setSelected(id ? { kind: "incident", id } : null);
    const i = id && store.incidents.get(id);
    if (i?.location && !map.isVisible(i.location.lat, i.location.lon)) {
      map.centreOn(i.location.lat, i.location.lon);
    }
    detail.select(id);
    renderQueue(store, selected, { onSelect: select });
  }

  function locateUnit(id) {
    const u = store.units.get(id);
    if (!u?.location) return;
    map.setSelected({ kind: "unit", id });
    map.centreOn(u.location.lat, u.location.lon);
  }

  /** A crew's report made from the board (acknowledged the dispatch, arrived on scene). */
  async function crewReport(path, unitId, what) {
    try {
      await api.post(path, {});
      toast(`${store.unitName(unitId)} ${what}`);
    } catch (err) {
      toast(`${store.unitName(unitId)} not ${what}: ${humanError(err)}`, { bad: true });
    }
  }

  /** Accept a recommended move-up, or decline it with a reason (both logged with who). */
  async function answerRelocation(unitId, accept) {
    const move = store.relocations.get(unitId);
    if (!move) return;
    const name = store.unitName(unitId);
    if (accept) {
      try {
        await api.post(PATHS.relocationAccept(unitId), { to_station: move.to_station });
        toast(`${name} relocating to ${move.to_station}`);
      } catch (err) {
        toast(`Move not accepted: ${humanError(err)}`, { bad: true });
      }
      return;
    }
    await ask(`Decline moving ${name} to ${move.to_station}`, [{ name: "reason", label: "Reason", maxLength: 500 }], {
      ok: "Decline",
      text: move.explanation,
      onSubmit: async (v) => {
        await api.post(PATHS.relocationDecline(unitId), v.reason ? { reason: v.reason } : {});
        toast(`${name} stays: move declined`);
      },
    });
  }

  async function setStatus(unitId, status) {
    try {
      await api.post(PATHS.unitStatus(unitId), { status });
      toast(`${store.unitName(unitId)} → ${status.replace(/_/g, " ")}`);
    } catch (err) {
      toast(`Status failed: ${humanError(err)}`, { bad: true });
      renderAll();
    }
  }

  function drawMap() {
    const incidents = [...store.incidents.values()]
      .filter((i) => i.location)
      .map((i) => ({ id: i.id, lat: i.location.lat, lon: i.location.lon, priority: i.priority, label: i.code }));
    const units = [...store.units.values()]
      .filter((u) => u.location)
      .map((u) => ({ id: u.id, lat: u.location.lat, lon: u.location.lon, status: u.status, label: u.call_sign || u.id }));
    const lines = [];
    for (const a of store.recommendation.assignments) {
      const u = store.units.get(a.unit);
      const i = store.incidents.get(a.incident);
      if (!u?.location || !i?.location) continue;
      lines.push({ from: u.location, to: i.location, path: routes.pathFor(u.id, i.id), label: `${u.call_sign || u.id} ${clock(a.eta_s)}` });
    }
    for (const u of store.units.values()) {
      const i = u.incident && store.incidents.get(u.incident);
      if (i?.location && u.location && (u.status === "dispatched" || u.status === "en_route")) {
        lines.push({ from: u.location, to: i.location, path: routes.pathFor(u.id, i.id), accepted: true });
      }
    }
    for (const u of store.units.values()) {
      const m = store.relocations.get(u.id);
      const to = m?.to ?? (u.relocating_to ? u.relocating_position : null);
      if (u.location && to) {
        lines.push({ from: u.location, to, move: true, accepted: !m, label: m ? `${u.call_sign || u.id} → ${m.to_station}` : null });
      }
    }
    map.setLayers({ incidents, units, lines, closures: store.closures });
  }

  function renderAll() {
    if (selected && !store.incidents.has(selected)) selected = null;
    if (edit.open && !store.incidents.has(edit.id)) edit.hide();
    renderQueue(store, selected, { onSelect: select });
    renderUnits(store, {
      canOperate,
      filter: { text: $("units-filter").value, type: $("units-type").value, status: $("units-status").value },
      changed: changedUnits,
      onStatus: setStatus,
      onLocate: locateUnit,
      onAck: (id) => crewReport(PATHS.unitAck(id), id, "acknowledged"),
      onArrive: (id) => crewReport(PATHS.unitArrive(id), id, "on scene"),
      onRelocation: answerRelocation,
    });
    fillTypeFilter();
    alerts.render();
    changedUnits.clear();
    closures.render();
    drawMap();
    if (detail.id !== selected) detail.select(selected);
    else detail.render();
  }

  store.onChange(renderAll);
  if (region) store.onChange(() => routes.refresh(store.version));
  // Supervisors also get the log's state, the work per person and the recent overrides.
  const supervisor = me.role === "supervisor" ? new SupervisorView({ api, section: $("supervisor"), me }) : null;
  if (supervisor) {
    store.onChange(() => supervisor.refresh());
    supervisor.checkLog();
    setInterval(() => supervisor.checkLog(), 60_000);
  }
  store.onError = (err) => toast(`Could not refresh: ${err.message}`, { bad: true });
  for (const id of ["units-filter", "units-type", "units-status", "queue-filter"]) $(id).addEventListener("input", renderAll);
  $("units-status").innerHTML += UNIT_STATUSES.map((st) => `<option value="${st}">${UNIT_STATUS_STYLE[st].name}</option>`).join("");
  function fillTypeFilter() {
    const sel = $("units-type");
    const caps = [...new Set([...store.units.values()].flatMap((u) => [...(u.capabilities ?? [])]))].sort();
    const have = [...sel.options].map((o) => o.value).slice(1);
    if (have.join() === caps.join()) return;
    const keep = sel.value;
    sel.innerHTML = '<option value="">all</option>' + caps.map((c) => `<option>${c}</option>`).join("");
    sel.value = caps.includes(keep) ? keep : "";
  }
  await store.refresh();
  handover.refresh();

  // Live: every event refreshes the picture; the selected incident's timeline too.
  api.stream(PATHS.events, {
    onEvent: async (ev) => {
      if (ev.type === "ping" || ev.type === "heartbeat") return;
      const data = ev.data && typeof ev.data === "object" ? ev.data : {};
      const type = data.type ?? ev.type;
      const unitId = data.unit_id ?? data.event?.unit_id;
      if (unitId) changedUnits.add(unitId);
      for (const u of data.units ?? []) changedUnits.add(u);
      await store.scheduleRefresh();
      if (type === "shift_handed_over" || type === "handover_acknowledged") handover.refresh();
      const incidentId = data.incident ?? data.event?.incident_id;
      if (selected && (incidentId === selected || type === "recommendation_issued" || unitId)) {
        detail.loadTimeline();
      }
      window.consoleMetrics.events += 1;
      window.consoleMetrics.lastEvent = { type, at: performance.now() };
    },
    onState: (state) => {
      const pill = $("stream-state");
      pill.textContent = state === "live" ? "live" : state === "denied" ? "no stream access" : "reconnecting…";
      pill.className = `pill ${state === "live" ? "live" : "down"}`;
      if (state === "live") {
        setOffline(false);
        store.scheduleRefresh();
      } else if (state === "down") {
        probe();
      }
    },
  });

  // Offline honesty: a failed probe (or a dropped stream) shows a banner and disables every
  // action until the server answers again; nothing pretends to work meanwhile.
  let offlineSince = null;
  function setOffline(on) {
    if (on === Boolean(offlineSince)) return;
    offlineSince = on ? new Date() : null;
    const banner = $("offline");
    banner.hidden = !on;
    if (on) {
      banner.querySelector("[data-since]").textContent = offlineSince.toLocaleTimeString([], { hour12: false });
      document.body.dataset.offline = "true";
    } else {
      delete document.body.dataset.offline;
      store.scheduleRefresh();
    }
    disableActions(on);
  }
  async function probe() {
    try {
      const r = await fetch("/health", { cache: "no-store" });
      setOffline(!r.ok);
    } catch {
      setOffline(true);
    }
  }
  store.onChange(() => disableActions(Boolean(offlineSince)));
  setInterval(probe, OFFLINE_PROBE_MS);

  setInterval(() => {
    tickClocks(store);
    alerts.render();
    $("clock").textContent = new Date().toLocaleTimeString([], { hour12: false });
  }, 1000);

  bindKeys({ store, map, detail, forms: [edit, closures, contact], contact, closures, select, canOperate, getSelected: () => selected });
  $("new-contact").addEventListener("click", () => contact.show());
  $("help-button").addEventListener("click", () => $("help").showModal());
  contact.restoreDraft();
  window.dispatchConsole = { store, map, region, routes, select, selected: () => selected, forms: [edit, closures, contact], alerts, history, handover, detail };
  document.body.dataset.ready = "true";
  window.consoleMetrics.readyMs = performance.now() - started;
}

/** The open form a key is meant for: the one holding the focus, else the first open one. */
function currentForm(forms) {
  const open = forms.filter((f) => f.open);
  return open.find((f) => (f.section ?? f.form).contains(document.activeElement)) ?? open[0];
}

/** Keys that still work while a form is open (a call is being taken, an incident edited). */
const KEYS_WHILE_A_FORM_IS_OPEN = new Set(["m", "?"]);

/**
 * Single-key shortcuts, made safe for a dispatcher who is typing: none acts while the focus is
 * in a form or a dialog (a letter typed on a form's button is not a command), and none of the
 * incident actions acts while a form is open at all. Alt+P picks a form's point on the map; Esc
 * stops picking, else asks before a form with typed information is discarded.
 */
function bindKeys({ store, map, detail, forms, contact, closures, select, canOperate, getSelected }) {
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey) return;
    if (document.querySelector("dialog[open]")) return;
    const form = currentForm(forms);
    if (e.altKey) {
      if (form && e.code === "KeyP") {
        e.preventDefault();
        form.pick(true);
      }
      return;
    }
    if (e.key === "Escape") {
      // The key's own default (closing a modal) must not cancel the question it opens.
      e.preventDefault();
      const picking = forms.find((f) => f.picking);
      if (picking) picking.pick(false);
      else if (form) setTimeout(() => form.requestHide(), 0);
      return;
    }
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName) || e.target.isContentEditable) return;
    if (forms.some((f) => f.open && f.section.contains(e.target))) return;
    if (e.target === map.canvas && ["+", "-", "=", "0"].includes(e.key)) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (form && !KEYS_WHILE_A_FORM_IS_OPEN.has(key)) return;
    if (document.body.dataset.offline && !KEYS_WHILE_A_FORM_IS_OPEN.has(key)) return;
    const queue = store.queue();
    const idx = queue.findIndex((i) => i.id === getSelected());
    const focusRow = (id) => document.querySelector(`#queue tr[data-id="${CSS.escape(id)}"]`)?.focus();
    const keys = {
      n: () => canOperate && contact.show(),
      r: () => closures.show(),
      j: () => queue.length && (select(queue[Math.min(idx + 1, queue.length - 1)].id), focusRow(getSelected())),
      k: () => queue.length && (select(queue[Math.max(idx - 1, 0)].id), focusRow(getSelected())),
      a: () => detail.act("accept"),
      o: () => detail.act("override"),
      e: () => detail.act("escalate"),
      i: () => detail.act("edit"),
      d: () => detail.act("downgrade"),
      t: () => detail.act("note"),
      q: () => detail.act("query"),
      c: () => detail.act("complaint"),
      g: () => detail.act("agency"),
      x: () => detail.act("close"),
      m: () => map.canvas.focus(),
      u: () => document.getElementById("units-filter").focus(),
      "?": () => document.getElementById("help").showModal(),
    };
    const fn = keys[key];
    if (fn) {
      e.preventDefault();
      fn();
    }
  });
}

main().catch((err) => {
  console.warn("console failed to start", err);
  toast(`Console failed to start: ${err.message}`, { bad: true });
});
