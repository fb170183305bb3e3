// The REST client both front ends share: bearer tokens in browser storage, one silent refresh on 401,
// and the live event stream (read with fetch, since EventSource cannot send an Authorization header).

export class ApiError extends Error {
  /** `problems`: a 422's list of {loc, msg}, so a form can name the field each is about. */
  constructor(status, detail, problems = []) {
    super(detail || `request failed (${status})`);
    this.status = status;
    this.problems = problems;
  }
}

export class Api {
  constructor(storage, key) {
    this.storage = storage;
    this.key = key;
    this.refreshing = null;
    this.onLogout = () => {};
  }

  get tokens() {
    return JSON.parse(this.storage.getItem(this.key) || "null");
  }

  set tokens(value) {
    if (value) this.storage.setItem(this.key, JSON.stringify(value));
    else this.storage.removeItem(this.key);
  }

  get isLoggedIn() {
    return Boolean(this.tokens);
  }

  async login(username, password) {
    this.tokens = await this.#send("POST", "/api/login", { username, password });
  }

  async signup(username, password) {
    this.tokens = await this.#send("POST", "/api/signup", { username, password });
  }

  async logout() {
    try {
      await this.request("POST", "/api/logout");
    } finally {
      this.forget();
    }
  }

  forget() {
    this.tokens = null;
    this.onLogout();
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }
  patch(path, body) { return this.request("PATCH", path, body); }
  put(path, body) { return this.request("PUT", path, body); }
  delete(path) { return this.request("DELETE", path); }

  async request(method, path, body) {
    const response = await this.fetchWithAuth(path, { method, body });
    return readBody(response);
  }

  /** JSON list plus the X-Total-Count header of a paginated listing. */
  async page(path) {
    const response = await this.fetchWithAuth(path, { method: "GET" });
    const items = await readBody(response);
    return { items, total: Number(response.headers.get("X-Total-Count") || items.length) };
  }

  async blob(path) {
    const response = await this.fetchWithAuth(path, { method: "GET" });
    if (!response.ok) await readBody(response);
    return response.blob();
  }

  /** fetch() with the bearer token; a 401 refreshes the tokens once and retries. */
  async fetchWithAuth(path, { method, body, signal } = {}) {
    let response = await this.#fetch(path, method, body, signal);
    if (response.status === 401 && this.tokens) {
      if (await this.refresh()) response = await this.#fetch(path, method, body, signal);
      if (response.status === 401) this.forget();
    }
    return response;
  }

  /** One refresh at a time: the refresh token rotates, so two parallel refreshes would end the session. */
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.#refreshOnce().finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  async #refreshOnce() {
    const tokens = this.tokens;
    if (!tokens) return false;
    try {
      this.tokens = await this.#send("POST", "/api/token/refresh", { refresh_token: tokens.refresh_token });
      return true;
    } catch {
      return false;
    }
  }

  #fetch(path, method, body, signal) {
    const headers = { Accept: "application/json" };
    const tokens = this.tokens;
    if (tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
    // A form (a file upload) goes as it is: the browser writes its multipart Content-Type with the boundary.
    const isForm = body instanceof FormData;
    if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
    return fetch(path, { method, headers, signal, body: body === undefined || isForm ? body : JSON.stringify(body) });
  }

  async #send(method, path, body) {
    const response = await this.#fetch(path, method, body);
    return readBody(response);
  }
}

async function readBody(response) {
  const type = response.headers.get("Content-Type") || "";
  // A 204 has no body, though FastAPI still labels it JSON.
  const data = response.status !== 204 && type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, describeError(data), Array.isArray(data?.detail) ? data.detail : []);
  return data;
}

function describeError(data) {
  if (!data) return "";
  if (typeof data.detail === "string") return data.detail;
  if (Array.isArray(data.detail)) return data.detail.map((problem) => problem.msg).join("; ");
  return "";
}

/**
 * Follow /api/events until close() is called; reconnects with a growing pause.
 * handlers: { event(kind, data), open() } — open() runs on every (re)connection, so a page can
 * reload what it may have missed while the stream was down.
 */
export function followEvents(api, handlers) {
  const controller = new AbortController();
  let pause = 500;

  async function run() {
    while (!controller.signal.aborted && api.isLoggedIn) {
      try {
        const response = await api.fetchWithAuth("/api/events", { method: "GET", signal: controller.signal });
        if (!response.ok) throw new ApiError(response.status);
        pause = 500;
        handlers.open?.();
        await readEvents(response.body, handlers.event);
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 15000);
    }
  }

  run();
  return { close: () => controller.abort() };
}

async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, end), onEvent);
      buffer = buffer.slice(end + 2);
    }
  }
}

function dispatch(block, onEvent) {
  let kind = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
}

/** One live stream per page, fanned out to the views that listen: hub.on("meter_values", fn). */
export class EventHub {
  constructor(api) {
    this.api = api;
    this.listeners = new Map();
    this.stream = null;
  }

  on(kind, listener) {
    if (!this.listeners.has(kind)) this.listeners.set(kind, new Set());
    this.listeners.get(kind).add(listener);
  }

  start() {
    this.stream ??= followEvents(this.api, {
      event: (kind, data) => this.#emit(kind, data),
      open: () => this.#emit("open", {}),
    });
  }

  stop() {
    this.stream?.close();
    this.stream = null;
  }

  #emit(kind, data) {
    for (const listener of this.listeners.get(kind) || []) {
      try {
        listener(data);
      } catch (error) {
        console.error(`live ${kind} listener failed`, error);
      }
    }
  }
}
