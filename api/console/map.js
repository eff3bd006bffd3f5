// The region map: a basemap of named streets drawn by MapLibre GL JS from the region's own
// OpenStreetMap data (GET /v1/region/basemap, no tile server), with the live picture (units,
// stacks, incidents, routes, closures) drawn over it on a canvas that also takes all input.
//
// When MapLibre is missing (npm not run) or WebGL is not available, the canvas draws the roads
// itself, unnamed: coordinates are then projected equirectangularly around the region's centre
// into "map units" of metres, and the view is a scale and an offset on top.

import { BASEMAP_STYLE } from "./basemap.js";
import { PRIORITY_STYLE, UNIT_STATUS_STYLE } from "./styles.js";

const MIN_SCALE = 0.005; // pixels per metre
const MAX_SCALE = 20;
const STACK_PX = 14; // unit squares closer than this on screen are drawn as one stack
const WORLD_M = 40075016.686; // the equator in metres: MapLibre's world is 512 * 2^zoom pixels

export class RegionMap {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{onPick?: (p: {lat: number, lon: number}, owner: object | null) => void,
   *          onSelect?: (kind: string, id: string) => void}} handlers
   */
  constructor(canvas, handlers = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.handlers = handlers;
    this.roads = null; // Path2D in map units (drawn only without a basemap)
    this.origin = { lat: 0, lon: 0, kx: 1, ky: 1 };
    this._view = { scale: 1, x: 0, y: 0 }; // without a basemap: screen = (map - offset) * scale
    this.gl = null; // the MapLibre map under the canvas, once one could be made
    this.basemap = null; // the basemap's own summary (counts, attribution, note)
    this.layers = { incidents: [], units: [], lines: [], closures: [], draft: null, pick: null };
    this.selected = null;
    this.expanded = null; // the unit stack drawn spread out (its first unit's id), if any
    this._targets = []; // what was drawn where, topmost last: {kind, id, x, y, r}
    this.picking = false;
    this.pickOwner = null; // the form the picked point goes to
    this._frame = 0;
    this._bindInput();
    new ResizeObserver(() => this._resize()).observe(canvas);
  }

  /** Load the region: {bbox: [minLon, minLat, maxLon, maxLat], segments: flat [lon1,lat1,lon2,lat2,...]}. */
  setRegion(region) {
    const [minLon, minLat, maxLon, maxLat] = region.bbox;
    const lat0 = (minLat + maxLat) / 2;
    const lon0 = (minLon + maxLon) / 2;
    const ky = 111320;
    const kx = ky * Math.cos((lat0 * Math.PI) / 180);
    this.origin = { lat: lat0, lon: lon0, kx, ky };
    this.regionName = region.name;
    const path = new Path2D();
    const s = region.segments;
    for (let i = 0; i + 3 < s.length; i += 4) {
      const a = this.project(s[i + 1], s[i]);
      const b = this.project(s[i + 3], s[i + 2]);
      path.moveTo(a.x, a.y);
      path.lineTo(b.x, b.y);
    }
    // A matrix region (travel times between points, no road geometry) is drawn as its points.
    const pts = region.points || [];
    for (let i = 0; i + 1 < pts.length; i += 2) {
      const a = this.project(pts[i + 1], pts[i]);
      path.moveTo(a.x + 120, a.y);
      path.arc(a.x, a.y, 120, 0, 2 * Math.PI);
    }
    this.roads = path;
    this.bounds = { a: this.project(maxLat, minLon), b: this.project(minLat, maxLon) };
    this.lonLatBounds = [[minLon, minLat], [maxLon, maxLat]];
    if (s.length) this._startBasemap();
    this.fit();
  }

  /** MapLibre under the canvas (not interactive: the canvas takes the input and moves it). */
  _startBasemap() {
    const lib = window.maplibregl;
    if (!lib || this.gl) return;
    const host = document.createElement("div");
    host.className = "basemap";
    host.setAttribute("aria-hidden", "true");
    this.canvas.before(host);
    try {
      this.gl = new lib.Map({
        container: host,
        style: BASEMAP_STYLE,
        interactive: false,
        attributionControl: false,
        bounds: this.lonLatBounds,
        maxZoom: 19,
        minZoom: 8,
        fadeDuration: 0,
      });
    } catch {
      host.remove(); // no WebGL here: the canvas draws the roads itself
      this.gl = null;
      return;
    }
    host.querySelector("canvas")?.setAttribute("tabindex", "-1");
    this.gl.on("move", () => this.draw());
    this.gl.on("resize", () => this.draw());
  }

  /** The basemap's GeoJSON (named streets, bridges) once it has arrived. */
  setBasemap(collection) {
    this.basemap = collection.planner || null;
    const credit = document.getElementById("map-credit");
    if (credit && this.basemap?.attribution) {
      credit.textContent = this.basemap.attribution;
      credit.hidden = false;
    }
    const gl = this.gl;
    if (!gl) return;
    const put = () => gl.getSource("roads")?.setData(collection);
    if (gl.isStyleLoaded()) put();
    else gl.once("load", put);
    this.draw();
  }

  /** Whether the streets under the picture are MapLibre's (named) or the canvas's own. */
  get hasBasemap() {
    return Boolean(this.gl);
  }

  /** The view: pixels per metre (``scale``) and, without a basemap, the offset in map units. */
  get view() {
    if (!this.gl) return this._view;
    const lat = this.gl.getCenter().lat;
    const scale = (512 * 2 ** this.gl.getZoom()) / (WORLD_M * Math.cos((lat * Math.PI) / 180));
    return { scale, x: 0, y: 0 };
  }

  project(lat, lon) {
    const o = this.origin;
    return { x: (lon - o.lon) * o.kx, y: -(lat - o.lat) * o.ky };
  }

  unproject(x, y) {
    const o = this.origin;
    return { lat: o.lat - y / o.ky, lon: o.lon + x / o.kx };
  }

  toScreen(lat, lon) {
    if (this.gl) {
      const p = this.gl.project([lon, lat]);
      return { x: p.x, y: p.y };
    }
    const p = this.project(lat, lon);
    const v = this._view;
    return { x: (p.x - v.x) * v.scale, y: (p.y - v.y) * v.scale };
  }

  fromScreen(sx, sy) {
    if (this.gl) {
      const p = this.gl.unproject([sx, sy]);
      return { lat: p.lat, lon: p.lng };
    }
    const v = this._view;
    return this.unproject(sx / v.scale + v.x, sy / v.scale + v.y);
  }

  fit() {
    if (!this.bounds) return;
    if (this.gl) {
      this.gl.resize();
      this.gl.fitBounds(this.lonLatBounds, { padding: 12, animate: false });
      this.draw();
      return;
    }
    const { a, b } = this.bounds;
    const v = this._view;
    const w = this.canvas.clientWidth || 1;
    const h = this.canvas.clientHeight || 1;
    const scale = 0.95 * Math.min(w / (b.x - a.x || 1), h / (b.y - a.y || 1));
    v.scale = clamp(scale, MIN_SCALE, MAX_SCALE);
    v.x = (a.x + b.x) / 2 - w / 2 / v.scale;
    v.y = (a.y + b.y) / 2 - h / 2 / v.scale;
    this.draw();
  }

  zoomAt(factor, sx, sy) {
    if (this.gl) {
      const around = this.gl.unproject([sx, sy]);
      this.gl.zoomTo(this.gl.getZoom() + Math.log2(factor), { around, animate: false });
      this.draw();
      return;
    }
    const v = this._view;
    const before = { x: sx / v.scale + v.x, y: sy / v.scale + v.y };
    v.scale = clamp(v.scale * factor, MIN_SCALE, MAX_SCALE);
    v.x = before.x - sx / v.scale;
    v.y = before.y - sy / v.scale;
    this.draw();
  }

  panBy(dx, dy) {
    if (this.gl) {
      this.gl.panBy([-dx, -dy], { animate: false });
      this.draw();
      return;
    }
    this._view.x -= dx / this._view.scale;
    this._view.y -= dy / this._view.scale;
    this.draw();
  }

  /** Whether a point is inside the canvas as the view stands (with a small margin). */
  isVisible(lat, lon) {
    const p = this.toScreen(lat, lon);
    const m = 20;
    return p.x >= m && p.y >= m && p.x <= this.canvas.clientWidth - m && p.y <= this.canvas.clientHeight - m;
  }

  /** Centre the view on a point without changing the zoom. */
  centreOn(lat, lon) {
    if (this.gl) {
      this.gl.jumpTo({ center: [lon, lat] });
      this.draw();
      return;
    }
    const p = this.project(lat, lon);
    this._view.x = p.x - this.canvas.clientWidth / 2 / this._view.scale;
    this._view.y = p.y - this.canvas.clientHeight / 2 / this._view.scale;
    this.draw();
  }

  /** Replace what is drawn over the roads; each layer is a list of plain objects. */
  setLayers(layers) {
    Object.assign(this.layers, layers);
    this.draw();
  }

  setSelected(sel) {
    this.selected = sel;
    this.draw();
  }

  /** Take the next click as a point (``what`` finishes the hint: "Click the map <what>"). */
  setPicking(on, what = "to pick a point", owner = null) {
    if (!on && owner && this.pickOwner !== owner) return; // another form is picking now
    this.picking = on;
    this.pickOwner = on ? owner : null;
    this.canvas.classList.toggle("picking", on);
    const hint = document.getElementById("pick-hint");
    if (!hint) return;
    hint.hidden = !on;
    const text = hint.querySelector("[data-what]");
    if (text) text.textContent = what;
  }

  draw() {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this._paint();
    });
  }

  _resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    const first = this.canvas.width === 300 && this.canvas.height === 150;
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
    if (first) this.fit();
    else this.draw();
  }

  _paint() {
    const ctx = this.ctx;
    const dpr = window.devicePixelRatio || 1;
    const { scale, x, y } = this._view;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.gl) {
      ctx.fillStyle = "#f4f3ef";
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    }
    if (this.roads && !this.gl) {
      ctx.setTransform(dpr * scale, 0, 0, dpr * scale, -x * scale * dpr, -y * scale * dpr);
      ctx.strokeStyle = "#b9b6ad";
      ctx.lineWidth = 1.2 / scale;
      ctx.lineCap = "round";
      ctx.stroke(this.roads);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this._placed = []; // label boxes drawn so far: later labels that would overlap are skipped
    for (const c of this.layers.closures) this._closure(c);
    if (this.layers.draft) this._closure(this.layers.draft);
    for (const l of this.layers.lines) this._line(l);
    this._targets = [];
    for (const i of this.layers.incidents) this._incident(i);
    for (const stack of this.stacks()) {
      if (stack.units.length === 1) this._unit(stack.units[0], stack.x, stack.y);
      else if (this.expanded === stack.key || stack.units.some((u) => this._isSelected(u))) this._spread(stack);
      else this._stack(stack);
    }
    if (this.layers.pick) this._pick(this.layers.pick);
  }

  /**
   * Units whose squares would overlap on screen, grouped (a station's units share one point):
   * each stack is drawn once, with a count, so no unit's label sits on another unit's status.
   * Returns [{key, x, y, units}] with ``key`` the first unit's id (stable while it stays there).
   */
  stacks() {
    const out = [];
    const units = [...this.layers.units].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const u of units) {
      const p = this.toScreen(u.lat, u.lon);
      const near = out.find((s) => Math.abs(s.x - p.x) < STACK_PX && Math.abs(s.y - p.y) < STACK_PX);
      if (near) near.units.push(u);
      else out.push({ key: u.id, x: p.x, y: p.y, units: [u] });
    }
    return out;
  }

  /** Spread a stack out (or fold it back with ``null``); a click on a stack does this. */
  expand(key) {
    this.expanded = key;
    this.draw();
  }

  _isSelected(u) {
    return Boolean(this.selected && this.selected.kind === "unit" && this.selected.id === u.id);
  }

  /** A folded stack: one dark square with the number of units, and their statuses in words. */
  _stack(stack) {
    const ctx = this.ctx;
    const { x, y } = stack;
    const r = 9;
    const counts = new Map();
    for (const u of stack.units) {
      const letter = (UNIT_STATUS_STYLE[u.status] || UNIT_STATUS_STYLE.out_of_service).letter;
      counts.set(letter, (counts.get(letter) ?? 0) + 1);
    }
    ctx.save();
    // Two offset squares behind say "more than one"; the count is the text cue.
    ctx.fillStyle = "#ffffff";
    ctx.strokeStyle = "#1b1b1b";
    ctx.lineWidth = 1;
    for (const d of [6, 3]) {
      ctx.fillRect(x - r + d, y - r - d, 2 * r, 2 * r);
      ctx.strokeRect(x - r + d, y - r - d, 2 * r, 2 * r);
    }
    ctx.fillStyle = "#20252b";
    ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
    ctx.strokeRect(x - r, y - r, 2 * r, 2 * r);
    ctx.fillStyle = "#ffffff";
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(String(stack.units.length), x, y + 0.5);
    const summary = [...counts].sort().map(([l, n]) => `${n}${l}`).join(" ");
    this._label(`${stack.units.length} units: ${summary}`, x + r + 8, y, "#1b1b1b", "rgba(255,255,255,0.9)", "left");
    ctx.restore();
    this._targets.push({ kind: "stack", id: stack.key, x, y, r: r + 4 });
  }

  /** An opened stack: each unit on a ring around the point, joined to it by a thin line. */
  _spread(stack) {
    const ctx = this.ctx;
    const n = stack.units.length;
    const radius = Math.max(26, (n * 22) / (2 * Math.PI));
    ctx.save();
    ctx.strokeStyle = "#1b1b1b";
    ctx.lineWidth = 1;
    ctx.fillStyle = "#1b1b1b";
    ctx.beginPath();
    ctx.arc(stack.x, stack.y, 3, 0, 2 * Math.PI);
    ctx.fill();
    const spots = stack.units.map((u, k) => {
      const a = (2 * Math.PI * k) / n - Math.PI / 2;
      return { u, x: stack.x + radius * Math.cos(a), y: stack.y + radius * Math.sin(a) };
    });
    for (const s of spots) {
      ctx.beginPath();
      ctx.moveTo(stack.x, stack.y);
      ctx.lineTo(s.x, s.y);
      ctx.stroke();
    }
    ctx.restore();
    for (const s of spots) this._unit(s.u, s.x, s.y, true);
  }

  _closure(c) {
    const ctx = this.ctx;
    ctx.save();
    // A slow-down is amber, a closure red; the one being drawn in the form is outlined only.
    ctx.strokeStyle = c.draft ? "#1b1b1b" : c.factor ? "#8a5a00" : "#b00020";
    ctx.fillStyle = c.draft ? "rgba(0, 0, 0, 0.04)" : c.factor ? "rgba(230, 159, 0, 0.15)" : "rgba(176, 0, 32, 0.12)";
    ctx.lineWidth = 2;
    ctx.setLineDash(c.draft ? [2, 3] : [6, 4]);
    ctx.beginPath();
    if (c.centre && c.radius_m) {
      const p = this.toScreen(c.centre.lat, c.centre.lon);
      ctx.arc(p.x, p.y, Math.max(4, c.radius_m * this.view.scale), 0, 2 * Math.PI);
    } else if (c.polygon && c.polygon.length) {
      c.polygon.forEach((pt, k) => {
        const p = this.toScreen(pt.lat, pt.lon);
        if (k === 0) ctx.moveTo(p.x, p.y);
        else ctx.lineTo(p.x, p.y);
      });
      ctx.closePath();
    } else if (c.segments) {
      for (const s of c.segments) {
        const a = this.toScreen(s[1], s[0]);
        const b = this.toScreen(s[3], s[2]);
        ctx.moveTo(a.x, a.y);
        ctx.lineTo(b.x, b.y);
      }
      ctx.lineWidth = 4;
      ctx.stroke();
      ctx.restore();
      return;
    }
    ctx.fill();
    ctx.stroke();
    ctx.restore();
  }

  /** A unit's way to an incident: along the roads when its route is known (``path``, a list
   * of [lon, lat]), else straight; dashed while only recommended, solid once dispatched. */
  _line(l) {
    const ctx = this.ctx;
    const pts = (l.path && l.path.length > 1 ? l.path : [[l.from.lon, l.from.lat], [l.to.lon, l.to.lat]])
      .map(([lon, lat]) => this.toScreen(lat, lon));
    ctx.save();
    ctx.lineJoin = "round";
    ctx.lineCap = "round";
    ctx.beginPath();
    pts.forEach((p, k) => (k === 0 ? ctx.moveTo(p.x, p.y) : ctx.lineTo(p.x, p.y)));
    if (this.gl) {
      ctx.strokeStyle = "rgba(255, 255, 255, 0.85)"; // a halo keeps it readable over the streets
      ctx.lineWidth = 5;
      ctx.stroke();
    }
    ctx.strokeStyle = l.move ? "#009e73" : l.accepted ? "#0072b2" : "#1b1b1b";
    ctx.lineWidth = l.path ? 3 : 2;
    ctx.setLineDash(l.accepted && !l.move ? [] : [7, 5]);
    ctx.stroke();
    if (l.move) this._arrowhead(pts[pts.length - 2], pts[pts.length - 1]);
    if (l.label) {
      const mid = pts[Math.floor(pts.length / 2)];
      const prev = pts[Math.max(0, Math.floor(pts.length / 2) - 1)];
      const m = pts.length === 2 ? { x: (pts[0].x + pts[1].x) / 2, y: (pts[0].y + pts[1].y) / 2 } : { x: (mid.x + prev.x) / 2, y: (mid.y + prev.y) / 2 };
      this._label(l.label, m.x, m.y, "#ffffff", "#1b1b1b");
    }
    ctx.restore();
  }

  /** A move-up's arrowhead at ``to`` (the station the unit is recommended or sent to). */
  _arrowhead(from, to) {
    const ctx = this.ctx;
    const a = Math.atan2(to.y - from.y, to.x - from.x);
    ctx.setLineDash([]);
    ctx.beginPath();
    ctx.moveTo(to.x, to.y);
    ctx.lineTo(to.x - 10 * Math.cos(a - 0.45), to.y - 10 * Math.sin(a - 0.45));
    ctx.lineTo(to.x - 10 * Math.cos(a + 0.45), to.y - 10 * Math.sin(a + 0.45));
    ctx.closePath();
    ctx.fillStyle = ctx.strokeStyle;
    ctx.fill();
  }

  _incident(i) {
    const ctx = this.ctx;
    const p = this.toScreen(i.lat, i.lon);
    const style = PRIORITY_STYLE[i.priority] || PRIORITY_STYLE[5];
    const sel = this.selected && this.selected.kind === "incident" && this.selected.id === i.id;
    const r = sel ? 13 : 11;
    ctx.save();
    // A diamond for incidents (units are squares), priority as a digit inside.
    ctx.beginPath();
    ctx.moveTo(p.x, p.y - r);
    ctx.lineTo(p.x + r, p.y);
    ctx.lineTo(p.x, p.y + r);
    ctx.lineTo(p.x - r, p.y);
    ctx.closePath();
    ctx.fillStyle = style.fill;
    ctx.fill();
    ctx.lineWidth = sel ? 3 : 1.5;
    ctx.strokeStyle = sel ? "#000000" : "#1b1b1b";
    ctx.stroke();
    ctx.fillStyle = style.text;
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(String(i.priority), p.x, p.y + 0.5);
    if (i.label) this._label(i.label, p.x, p.y - r - 9, "#1b1b1b", "#ffffff", "center", true);
    ctx.restore();
    this._targets.push({ kind: "incident", id: i.id, x: p.x, y: p.y, r: r + 1 });
  }

  /** One unit: its square, its status letter and its own label, all from the same unit. */
  _unit(u, x, y, labelled = false) {
    const ctx = this.ctx;
    const p = { x, y };
    const style = UNIT_STATUS_STYLE[u.status] || UNIT_STATUS_STYLE.out_of_service;
    const sel = this._isSelected(u);
    const r = 7;
    ctx.save();
    ctx.fillStyle = style.fill;
    ctx.strokeStyle = sel ? "#000000" : "#1b1b1b";
    ctx.lineWidth = sel ? 3 : 1;
    ctx.fillRect(p.x - r, p.y - r, 2 * r, 2 * r);
    ctx.strokeRect(p.x - r, p.y - r, 2 * r, 2 * r);
    ctx.fillStyle = style.text;
    ctx.font = "bold 9px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(style.letter, p.x, p.y + 0.5);
    if (this.view.scale > 0.03 || sel || labelled) {
      ctx.textAlign = "left";
      ctx.font = "11px system-ui, sans-serif";
      this._label(u.label, p.x + r + 2, p.y, "#1b1b1b", "rgba(255,255,255,0.85)", "left", sel || labelled);
    }
    ctx.restore();
    this._targets.push({ kind: "unit", id: u.id, x: p.x, y: p.y, r: r + 2 });
  }

  _pick(p) {
    const ctx = this.ctx;
    const s = this.toScreen(p.lat, p.lon);
    ctx.save();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(s.x, s.y, 9, 0, 2 * Math.PI);
    ctx.moveTo(s.x - 14, s.y);
    ctx.lineTo(s.x + 14, s.y);
    ctx.moveTo(s.x, s.y - 14);
    ctx.lineTo(s.x, s.y + 14);
    ctx.stroke();
    ctx.restore();
  }

  /** Draw a boxed label unless it would cover one already drawn (``force`` draws it anyway). */
  _label(text, x, y, fg, bg, align = "center", force = false) {
    const ctx = this.ctx;
    ctx.save();
    ctx.font = "11px system-ui, sans-serif";
    const w = ctx.measureText(text).width + 6;
    const box = { x: align === "center" ? x - w / 2 : x, y: y - 8, w, h: 16 };
    const overlaps = this._placed.some(
      (b) => box.x < b.x + b.w && b.x < box.x + box.w && box.y < b.y + b.h && b.y < box.y + box.h,
    );
    if (!overlaps || force) {
      this._placed.push(box);
      ctx.fillStyle = bg;
      ctx.fillRect(box.x, box.y, w, 16);
      ctx.fillStyle = fg;
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(text, box.x + 3, y + 0.5);
    }
    ctx.restore();
  }

  /** The unit, stack or incident drawn topmost under a screen point, if any. */
  hit(sx, sy) {
    for (const t of [...this._targets].reverse()) {
      if (Math.abs(t.x - sx) <= t.r && Math.abs(t.y - sy) <= t.r) return { kind: t.kind, id: t.id };
    }
    return null;
  }

  _bindInput() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: false };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      drag.moved = true;
      drag.x = e.clientX;
      drag.y = e.clientY;
      this.panBy(dx, dy);
    });
    c.addEventListener("pointerup", (e) => {
      const wasDrag = drag && drag.moved;
      drag = null;
      if (wasDrag) return;
      const r = c.getBoundingClientRect();
      const sx = e.clientX - r.left;
      const sy = e.clientY - r.top;
      if (this.picking) {
        const p = this.fromScreen(sx, sy);
        this.handlers.onPick?.(p, this.pickOwner);
        return;
      }
      const h = this.hit(sx, sy);
      if (h?.kind === "stack") this.expand(h.id);
      else if (h) this.handlers.onSelect?.(h.kind, h.id);
      else if (this.expanded) this.expand(null);
    });
    c.addEventListener(
      "wheel",
      (e) => {
        e.preventDefault();
        const r = c.getBoundingClientRect();
        this.zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
      },
      { passive: false },
    );
    c.addEventListener("keydown", (e) => {
      const step = 60;
      const w = c.clientWidth / 2;
      const h = c.clientHeight / 2;
      const actions = {
        ArrowLeft: () => this.panBy(step, 0),
        ArrowRight: () => this.panBy(-step, 0),
        ArrowUp: () => this.panBy(0, step),
        ArrowDown: () => this.panBy(0, -step),
        "+": () => this.zoomAt(1.3, w, h),
        "=": () => this.zoomAt(1.3, w, h),
        "-": () => this.zoomAt(1 / 1.3, w, h),
        0: () => this.fit(),
      };
      const act = actions[e.key];
      if (act) {
        e.preventDefault();
        act();
      }
    });
  }
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

