// Small formatting helpers shared by the panels: times, distances, escaping.

/** Escape text for innerHTML (every value from the API goes through this). */
export function esc(value) {
  return String(value ?? "").replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

/** Seconds as m:ss (or h:mm:ss), with a sign only when negative. */
export function clock(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const sign = seconds < 0 ? "-" : "";
  let s = Math.round(Math.abs(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${sign}${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

export function secondsSince(iso, now = Date.now()) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? (now - t) / 1000 : null;
}

export function timeOfDay(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

/** Great-circle distance in metres. */
export function metres(a, b) {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(h));
}

/**
 * Where an incident stands against its response target: "ok", "amber" (less than a quarter of
 * the target left, or two minutes, whichever is more) or "red" (passed), with a text cue.
 */
export function targetState(incident, now = Date.now()) {
  const target = incident.target_s;
  const opened = secondsSince(incident.opened_at, now);
  if (!target || opened === null) return { cls: "", text: "–", rank: 0 };
  if (incident.first_arrival_at) {
    const took = (Date.parse(incident.first_arrival_at) - Date.parse(incident.opened_at)) / 1000;
    return took <= target
      ? { cls: "target-ok", text: `✓ met ${clock(took)}`, rank: 0 }
      : { cls: "target-red", text: `✖ late ${clock(took)}`, rank: 0 };
  }
  const left = target - opened;
  if (left < 0) return { cls: "target-red", text: `✖ ${clock(-left)} over`, rank: 2 };
  if (left < Math.max(120, target / 4)) {
    return { cls: "target-amber", text: `⚠ ${clock(left)} left`, rank: 1 };
  }
  return { cls: "target-ok", text: `${clock(left)} left`, rank: 0 };
}

export function titleCase(text) {
  return String(text ?? "").replace(/_/g, " ");
}

/** What the API calls a field, in the words on the console's forms. */
const FIELD_LABELS = {
  lat: "Latitude",
  lon: "Longitude",
  location: "Location",
  code: "Incident code",
  priority: "Priority",
  level: "Level",
  cause: "Cause",
  reason: "Reason",
  units: "Units",
  text: "Text",
  casualties: "Casualties",
  "methane.casualties": "Casualties",
  radius_m: "Radius",
  factor: "Travel time factor",
  caller_phone: "Caller phone",
  caller_name: "Caller name",
};

/**
 * A refusal as a dispatcher reads it: the field in the form's words ("Reason: …"), never an API
 * path ("body.reason"), and "the server cannot be reached" instead of "Failed to fetch".
 */
export function humanError(err, labels = {}) {
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) return "The server cannot be reached: nothing was saved. Try again when it is back.";
  const field = err.field ? String(err.field).replace(/^body\./, "") : "";
  const label = labels[field] ?? labels[field.split(".").pop()] ?? FIELD_LABELS[field] ?? FIELD_LABELS[field.split(".").pop()];
  let message = String(err.message ?? err);
  if (field) message = message.replace(new RegExp(`^(body\\.)?${field.replace(/[.]/g, "\\.")}:\\s*`), "");
  return label ? `${label}: ${message}` : message;
}
