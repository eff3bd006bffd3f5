// The console's only door to the planner: the JSON API and its event stream, with the key sent
// as the X-API-Key header. Every path the console uses is named here, in one place.

const KEY_STORAGE = "dispatch-console.api-key";

export class ApiError extends Error {
  constructor(status, detail, field) {
    super(detail);
    this.status = status;
    this.field = field;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

let idempotencySeq = 0;

/** A unique Idempotency-Key per user action, so a retried request never acts twice. */
export function newIdempotencyKey() {
  idempotencySeq += 1;
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `console-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}-${idempotencySeq}`;
}

export class Api {
  constructor(key) {
    this.key = key;
    this.onUnauthorized = null; // called when the key stops working (revoked mid-shift)
  }

  async request(method, path, { body, query, headers = {}, signal } = {}) {
    const url = new URL(path, window.location.origin);
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const init = { method, headers: { "X-API-Key": this.key, ...headers }, signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET" && !init.headers["Idempotency-Key"]) {
      init.headers["Idempotency-Key"] = newIdempotencyKey();
    }
    const response = await fetch(url, init);
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (response.status === 401 && this.onUnauthorized) this.onUnauthorized();
    if (!response.ok) {
      throw new ApiError(response.status, errorDetail(data, response), errorField(data));
    }
    return data;
  }

  get(path, query) {
    return this.request("GET", path, { query });
  }

  post(path, body, options = {}) {
    return this.request("POST", path, { body, ...options });
  }

  /**
   * Follow the Server-Sent Events stream with fetch (EventSource cannot send the key header).
   * Calls onEvent({type, data, id}) for each event and onState("live" | "down") as the
   * connection comes and goes; reconnects with back-off. Returns a function that stops it.
   */
  stream(path, { onEvent, onState }) {
    const controller = new AbortController();
    let lastId = null;
    let delay = 500;
    const run = async () => {
      while (!controller.signal.aborted) {
        try {
          const headers = { "X-API-Key": this.key, Accept: "text/event-stream" };
          if (lastId !== null) headers["Last-Event-ID"] = lastId;
          const response = await fetch(new URL(path, window.location.origin), {
            headers,
            signal: controller.signal,
            cache: "no-store",
          });
          if (response.status === 401 || response.status === 403) {
            if (response.status === 401) this.onUnauthorized?.();
            onState("denied");
            return;
          }
          if (!response.ok || !response.body) throw new Error(`stream ${response.status}`);
          onState("live");
          delay = 500;
          await readEvents(response.body, (ev) => {
            if (ev.id !== null) lastId = ev.id;
            onEvent(ev);
          });
        } catch (err) {
          if (controller.signal.aborted) return;
        }
        onState("down");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10000);
      }
    };
    run();
    return () => controller.abort();
  }
}

/** Parse a text/event-stream body into {type, data, id} events (data parsed as JSON). */
async function readEvents(body, emit) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { type: "message", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl;
    while ((nl = buffer.search(/\r\n|\n|\r/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (event.data.length) {
          const raw = event.data.join("\n");
          let data = raw;
          try {
            data = JSON.parse(raw);
          } catch {
            /* not JSON: pass the text on */
          }
          emit({ type: event.type, data, id: event.id });
        }
        event = { type: "message", data: [], id: null };
        continue;
      }
      if (line.startsWith(":")) continue; // keep-alive comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event.type = val;
      else if (field === "data") event.data.push(val);
      else if (field === "id") event.id = val;
    }
  }
}

function errorDetail(data, response) {
  if (data && typeof data === "object") {
    const d = data.detail ?? data.message ?? data.error;
    if (typeof d === "string") return d;
    if (Array.isArray(d) && d.length) {
      const first = d[0];
      const loc = Array.isArray(first.loc) ? first.loc.filter((p) => p !== "body").join(".") : "";
      return loc ? `${loc}: ${first.msg}` : String(first.msg ?? JSON.stringify(first));
    }
    if (d && typeof d === "object") return d.message ?? JSON.stringify(d);
  }
  if (typeof data === "string" && data) return data;
  return `${response.status} ${response.statusText}`;
}

function errorField(data) {
  if (data && typeof data === "object") {
    if (typeof data.field === "string") return data.field;
    if (data.detail && typeof data.detail === "object" && typeof data.detail.field === "string") {
      return data.detail.field;
    }
  }
  return undefined;
}
