// The incident queue and the units panel: tables redrawn from the store.

import { clock, esc, secondsSince, targetState, titleCase } from "./format.js";
import { UNIT_STATUSES, UNIT_STATUS_STYLE } from "./styles.js";

/** Render the queue; rows are in the tab order (Enter selects) and the selected one is marked
 * with aria-current. */
export function renderQueue(store, selectedId, { onSelect }) {
  const body = document.querySelector("#queue tbody");
  const words = (document.getElementById("queue-filter")?.value ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  const all = store.queue();
  const rows = all.filter((i) => {
    if (!words.length) return true;
    const units = store.unitsAt(i.id).map((u) => `${u.id} ${u.call_sign ?? ""}`).join(" ");
    const hay = `${i.id} ${i.code} ${i.code.replace(/_/g, " ")} ${i.label} P${i.priority} ${units}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
  const now = Date.now();
  // Redrawing replaces the rows; a dispatcher walking the queue by keyboard keeps the focus.
  const focusedId = body.contains(document.activeElement) ? document.activeElement.closest("tr")?.dataset.id : undefined;
  body.innerHTML = rows
    .map((i) => {
      const t = targetState(i, now);
      const unmet = store.unmetFor(i.id);
      const unmetAll = unmet.map((u) => `${u.capability}×${u.missing}`);
      const short = unmet.reduce((n, u) => n + u.missing, 0);
      const unmetText = `${short} short: ${unmetAll.slice(0, 3).join(" ")}${unmetAll.length > 3 ? ` +${unmetAll.length - 3} more` : ""}`;
      const sel = i.id === selectedId;
      return `<tr data-id="${esc(i.id)}" tabindex="0"${sel ? ' aria-current="true"' : ""}
          aria-label="${esc(`Priority ${i.priority} ${i.label}, ${i.id}`)}">
        <td><span class="prio p${esc(i.priority)}">P${esc(i.priority)}</span></td>
        <td><strong>${esc(i.code)}</strong><div class="incident-id">${esc(i.id)}</div>
          ${unmet.length ? `<div class="unmet" title="${esc(unmetAll.join(", "))}">✖ ${esc(unmetText)}</div>` : ""}</td>
        <td>${esc(i.level)}${i.major_incident ? ' <abbr title="major incident">MI</abbr>' : ""}</td>
        <td class="mono" data-age="${esc(i.opened_at)}">${clock(secondsSince(i.opened_at, now))}</td>
        <td class="mono ${t.cls}" data-target="${esc(i.id)}">${esc(t.text)}</td>
      </tr>`;
    })
    .join("");
  document.getElementById("queue-count").textContent = rows.length === all.length ? `(${all.length})` : `(${rows.length} of ${all.length})`;
  document.getElementById("queue-empty").hidden = rows.length > 0;
  for (const tr of body.querySelectorAll("tr")) {
    if (tr.dataset.id === focusedId) tr.focus();
    tr.addEventListener("click", () => onSelect(tr.dataset.id));
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        onSelect(tr.dataset.id);
      }
    });
  }
}

/** Tick every time-open and time-against-target cell (queue and detail) in place, so focus
 * and selection are never disturbed by the clock. */
export function tickClocks(store) {
  const now = Date.now();
  for (const td of document.querySelectorAll("[data-age]")) {
    td.textContent = clock(secondsSince(td.dataset.age, now));
  }
  for (const td of document.querySelectorAll("[data-target]")) {
    const i = store.incidents.get(td.dataset.target);
    if (!i) continue;
    const t = targetState(i, now);
    td.className = `mono ${t.cls}`;
    td.textContent = t.text;
  }
}

/** The unit status board: status and time in it, station, assignment and ETA, with the crew's
 * acknowledge / arrive / clear as buttons; filtered by type (capability), status and text. */
export function renderUnits(store, { canOperate, filter, changed, onStatus, onLocate, onAck, onArrive, onRelocation }) {
  const body = document.querySelector("#units tbody");
  const needle = (filter.text || "").trim().toLowerCase();
  const units = [...store.units.values()]
    .filter((u) => !filter.status || u.status === filter.status)
    .filter((u) => !filter.type || (u.capabilities ?? []).includes(filter.type))
    .filter((u) => {
      if (!needle) return true;
      const hay = `${u.id} ${u.call_sign ?? ""} ${u.status} ${u.station ?? ""} ${u.incident ?? ""} ${[...(u.capabilities ?? [])].join(" ")}`;
      return hay.toLowerCase().includes(needle);
    })
    .sort((a, b) => (a.call_sign || a.id).localeCompare(b.call_sign || b.id, undefined, { numeric: true }));
  const eta = new Map(store.recommendation.assignments.map((a) => [a.unit, a]));
  body.innerHTML = units
    .map((u) => {
      const st = UNIT_STATUS_STYLE[u.status] || UNIT_STATUS_STYLE.out_of_service;
      const pos = u.location ? `${u.location.lat.toFixed(4)}, ${u.location.lon.toFixed(4)}` : "no position";
      const caps = [...(u.capabilities ?? [])].join(", ");
      const name = u.call_sign || u.id;
      const options = UNIT_STATUSES.map(
        (s) => `<option value="${s}"${s === u.status ? " selected" : ""}>${esc(titleCase(s))}</option>`,
      ).join("");
      const rec = eta.get(u.id);
      const assignment = u.incident
        ? `${esc(u.incident)}${u.status === "dispatched" ? (u.acknowledged ? " · ack'd" : " · <strong>not ack'd</strong>") : ""}`
        : rec ? `<span class="muted">recommended → ${esc(rec.incident)}</span>` : "";
      const move = relocationHtml(u, store.relocations.get(u.id), canOperate);
      const buttons = canOperate
        ? [
            u.status === "dispatched" && !u.acknowledged ? `<button type="button" data-do="ack">Ack</button>` : "",
            u.status === "dispatched" || u.status === "en_route" ? `<button type="button" data-do="arrive">Arrived</button>` : "",
            u.status !== "available" && u.status !== "out_of_service" ? `<button type="button" data-do="clear">Clear</button>` : "",
          ].join("")
        : "";
      return `<tr data-id="${esc(u.id)}" class="${changed.has(u.id) ? "flash" : ""}">
        <td><button type="button" class="locate" title="${esc(`${caps} — ${pos}`)}"
              aria-label="${esc(`Show ${name} on the map (${pos})`)}">${esc(name)}</button>
          <div class="unit-meta">${esc(caps)}</div></td>
        <td><span class="status-chip st-${esc(u.status)}" data-status="${esc(u.status)}">${esc(st.letter)} ${esc(st.name)}</span>
          <div class="unit-meta mono" data-age="${esc(u.status_since ?? "")}" title="time in status">${clock(secondsSince(u.status_since))}</div></td>
        <td class="unit-meta">${esc(u.station ?? "–")}</td>
        <td>${assignment}${move}</td>
        <td class="mono">${rec ? clock(rec.eta_s) : "–"}</td>
        <td class="unit-actions">${buttons}${
          canOperate
            ? `<label class="visually-hidden" for="st-${esc(u.id)}">Status of ${esc(name)}</label>
               <select id="st-${esc(u.id)}" data-unit="${esc(u.id)}">${options}</select>`
            : ""
        }</td>
      </tr>`;
    })
    .join("");
  document.getElementById("units-count").textContent = `(${units.length} of ${store.units.size})`;
  for (const sel of body.querySelectorAll("select[data-unit]")) {
    sel.addEventListener("change", () => onStatus(sel.dataset.unit, sel.value));
  }
  for (const btn of body.querySelectorAll("button.locate")) {
    btn.addEventListener("click", () => onLocate(btn.closest("tr").dataset.id));
  }
  for (const btn of body.querySelectorAll("button[data-do]")) {
    const id = btn.closest("tr").dataset.id;
    const act = {
      ack: () => onAck(id),
      arrive: () => onArrive(id),
      clear: () => onStatus(id, "available"),
      "move-accept": () => onRelocation?.(id, true),
      "move-decline": () => onRelocation?.(id, false),
    };
    btn.addEventListener("click", act[btn.dataset.do]);
  }
}

/** A unit's move-up: the pending recommendation (with Accept / Decline for operators) or the
 * station an accepted one is taking it to. */
function relocationHtml(u, move, canOperate) {
  if (move) {
    const gain = `${move.coverage_gain >= 0 ? "+" : ""}${(move.coverage_gain * 100).toFixed(1)} %`;
    const buttons = canOperate
      ? `<button type="button" data-do="move-accept">Accept move</button><button type="button" data-do="move-decline">Decline</button>`
      : "";
    return `<div class="relocation" data-move="${esc(move.to_station)}" title="${esc(move.explanation)}">
      move → ${esc(move.to_station)} <span class="muted">(${esc(gain)} cover, ${clock(move.drive_s)})</span>${buttons}</div>`;
  }
  if (u.relocating_to) return `<div class="relocation muted" data-relocating="${esc(u.relocating_to)}">relocating → ${esc(u.relocating_to)}</div>`;
  return "";
}
