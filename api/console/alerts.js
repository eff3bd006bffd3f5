// Alert ids follow the log's id rule (letters, digits, ._:/- and at most 80 characters).
//
// Alerts: what needs a person now, worked out from the live picture (escalations, dispatches
// not acknowledged, targets about to be missed, unmet requirements). Each has a stable id; a
// dispatcher or supervisor acknowledges it through the API, which logs who and when, and every
// console then shows it as taken.

import { toast } from "./dialog.js";
import { clock, esc, humanError, secondsSince, targetState, timeOfDay } from "./format.js";
import { PATHS } from "./store.js";

/** A dispatched unit that has not acknowledged within this long is an alert. */
export const UNACK_AFTER_S = 60;

const KIND_TEXT = {
  escalation: "Escalated",
  unacknowledged: "Not acknowledged",
  target: "Target",
  unmet: "Unmet",
};

const SOUND_KEY = "dispatch-console.alert-sound";

/** The open alerts, most urgent first: [{id, kind, severity, incident, unit, text}]. */
export function alertsFrom(store, now = Date.now()) {
  const out = [];
  for (const i of store.incidents.values()) {
    if (i.escalated_at) {
      const command = i.command_level ? ` · ${i.command_level} command` : "";
      out.push({ id: `escalation:${i.id}:${i.level}`, kind: "escalation", severity: 2, incident: i.id,
        text: `${i.code} at level ${i.level}${command}${i.major_incident ? " · MAJOR INCIDENT" : ""}` });
    }
    const t = targetState(i, now);
    if (t.rank >= 1) {
      out.push({ id: `target:${i.id}:${t.rank === 2 ? "missed" : "soon"}`, kind: "target", severity: t.rank,
        incident: i.id, text: `${i.code} P${i.priority}: ${t.text}, nobody on scene` });
    }
    const unmet = store.unmetFor(i.id);
    if (unmet.length) {
      // One alert per incident and shortfall: a new gap is a new alert, a filled one goes.
      const short = unmet.map((u) => `${u.capability}×${u.missing}`).sort();
      const caps = unmet.map((u) => u.capability).sort().join("/");
      out.push({ id: `unmet:${i.id}:${caps}`.slice(0, 80), kind: "unmet", severity: i.priority <= 2 ? 2 : 1,
        incident: i.id, text: `${i.code} P${i.priority}: ${short.join(", ")} short — ${unmet[0].reason ?? "no unit free"}` });
    }
  }
  for (const u of store.units.values()) {
    const waited = secondsSince(u.dispatched_at, now);
    if (u.status === "dispatched" && !u.acknowledged && waited !== null && waited > UNACK_AFTER_S) {
      out.push({ id: `unacknowledged:${u.id}:${Date.parse(u.dispatched_at)}`, kind: "unacknowledged", severity: 2,
        incident: u.incident, unit: u.id,
        text: `${store.unitName(u.id)} dispatched ${clock(waited)} ago to ${u.incident ?? "?"}, no acknowledgement` });
    }
  }
  return out.sort((a, b) => b.severity - a.severity || a.id.localeCompare(b.id));
}

export class AlertPanel {
  constructor({ store, api, canOperate, onSelect }) {
    this.store = store;
    this.api = api;
    this.canOperate = canOperate;
    this.onSelect = onSelect;
    this.list = document.getElementById("alerts-list");
    this.count = document.getElementById("alert-count");
    this.sound = document.getElementById("alert-sound");
    this.sound.checked = localStorage.getItem(SOUND_KEY) === "on";
    this.sound.addEventListener("change", () => localStorage.setItem(SOUND_KEY, this.sound.checked ? "on" : "off"));
    this.count.addEventListener("click", () => document.getElementById("alerts").scrollIntoView({ block: "start" }));
    this.seen = null; // alert ids already announced (null until the first render)
    this.current = [];
    this._key = null; // what was drawn: the clock redraws only when an alert comes or goes
  }

  /** Redraw; a new alert nobody has taken on flashes, is announced, and beeps if asked to. */
  render(now = Date.now()) {
    const alerts = alertsFrom(this.store, now);
    const acks = this.store.alertAcks;
    const open = alerts.filter((a) => !acks.has(a.id));
    const key = alerts.map((a) => `${a.id}/${acks.has(a.id)}`).join(" ") + this.canOperate;
    if (key === this._key) return;
    this._key = key;
    const fresh = this.seen ? open.filter((a) => !this.seen.has(a.id)) : [];
    this.seen = new Set(alerts.map((a) => a.id));
    this.current = alerts;
    this.count.textContent = open.length ? `${open.length} alert${open.length > 1 ? "s" : ""}` : "no alerts";
    this.count.className = `pill ${open.length ? "alarm" : ""}`;
    const row = (a) => {
      const ack = acks.get(a.id);
      return `<li class="alert sev${a.severity}${ack ? " taken" : ""}${fresh.includes(a) ? " new" : ""}" data-alert="${esc(a.id)}">
        <span class="alert-kind">${esc(KIND_TEXT[a.kind])}</span>
        ${a.incident ? `<button type="button" class="locate" data-go="${esc(a.incident)}">${esc(a.incident)}</button>` : ""}
        <span class="alert-text">${esc(a.text)}</span>
        ${ack
          ? `<span class="muted">taken by ${esc(ack.actor)} at ${esc(timeOfDay(ack.at))}</span>`
          : `<button type="button" data-ack="${esc(a.id)}"${this.canOperate ? "" : " disabled"}>Acknowledge</button>`}
      </li>`;
    };
    this.list.innerHTML = [...open, ...alerts.filter((a) => acks.has(a.id))].map(row).join("") ||
      '<li class="muted">Nothing needs you now.</li>';
    for (const b of this.list.querySelectorAll("button[data-go]")) b.addEventListener("click", () => this.onSelect(b.dataset.go));
    for (const b of this.list.querySelectorAll("button[data-ack]")) b.addEventListener("click", () => this.acknowledge(b.dataset.ack));
    if (fresh.length) {
      document.getElementById("alert-live").textContent = `New alert: ${fresh.map((a) => `${KIND_TEXT[a.kind]} ${a.text}`).join("; ")}`;
      if (this.sound.checked) beep();
    }
  }

  async acknowledge(id) {
    const a = this.current.find((x) => x.id === id);
    if (!a) return;
    try {
      await this.api.post(PATHS.alertAck(id), { kind: a.kind, incident_id: a.incident ?? null, unit_id: a.unit ?? null });
      toast("Alert acknowledged");
      await this.store.scheduleRefresh();
    } catch (err) {
      toast(`Acknowledge failed: ${humanError(err)}`, { bad: true });
      await this.store.scheduleRefresh();
    }
  }
}

let audio = null;

/** A short two-tone cue (Web Audio: no sound file to serve). */
function beep() {
  try {
    audio ??= new AudioContext();
    const t = audio.currentTime;
    for (const [k, f] of [[0, 880], [1, 660]]) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.15, t + k * 0.18);
      g.gain.exponentialRampToValueAtTime(0.001, t + k * 0.18 + 0.16);
      o.connect(g).connect(audio.destination);
      o.start(t + k * 0.18);
      o.stop(t + k * 0.18 + 0.17);
    }
  } catch {
    /* no audio device: the visual cue stands */
  }
}
