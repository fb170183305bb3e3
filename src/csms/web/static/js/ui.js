// Small DOM, formatting and routing helpers both front ends share. Text always goes in as text,
// never as HTML: charger ids, idTags and OCPP frames come from outside. Numbers, money and dates are formatted
// by Intl in the page's language (i18n.js), so they read as the rest of the page does.

import { locale, t } from "./i18n.js";

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** el("td", {class: "num", text: "3"}, child...) — attributes, text, event handlers (onclick) and children. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function fill(node, ...children) {
  node.replaceChildren(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

/** Fill a table's body with `rows`, or with one row across the table's columns that says `empty`. */
export function fillRows(body, rows, empty) {
  const columns = body.closest("table")?.tHead?.rows[0]?.cells.length || 1;
  return fill(body, ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: columns, text: empty }))]));
}

export function badge(text, kind = text) {
  return el("span", { class: `badge ${kind}`, text });
}

/** A connector or charger status (OCPP's "Available", "Faulted"...) in the page's language, as a badge. */
export const statusBadge = (status) => badge(statusText(status), status);
export const statusText = (status) => t(`status.${status}`, { defaultValue: status });

/** Show a result or an error in an aria-live element. */
export function say(node, text, { error = false } = {}) {
  node.textContent = text;
  node.classList.toggle("error", error);
}

export function formData(form) {
  return Object.fromEntries(new FormData(form).entries());
}

/** Run `action` on submit with the button disabled; its error goes to `output`. */
export function onSubmit(form, output, action) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = $$("button", form);
    buttons.forEach((button) => { button.disabled = true; });
    say(output, "");
    try {
      await action(formData(form), event.submitter);
    } catch (error) {
      say(output, error.message, { error: true });
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  });
}

/** A number with exactly `digits` decimals, by the page's locale. */
export const decimal = (value, digits) =>
  new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
export const kwh = (wh) => `${decimal(Number(wh || 0) / 1000, 2)} kWh`;
export const kw = (w) => (w === null || w === undefined ? "–" : `${decimal(Number(w) / 1000, 1)} kW`);
/**
 * An amount in its currency by the page's locale ("€1.20", "1,20 €", "￥120"). Amounts come as exact decimal
 * strings, and Intl formats a string exactly, never through a float; `unit` keeps up to 4 decimals (prices).
 * The currency's own minor digits are kept (none for yen), or 2 where it has more.
 */
export function money(amount, currency, { unit = false } = {}) {
  if (amount === null || amount === undefined) return "–";
  if (!currency) return String(amount);
  const minor = new Intl.NumberFormat(locale(), { style: "currency", currency }).resolvedOptions().minimumFractionDigits;
  const least = Math.min(minor, 2);
  const digits = { minimumFractionDigits: least, maximumFractionDigits: unit ? Math.max(least, 4) : Math.max(least, minor) };
  return new Intl.NumberFormat(locale(), { style: "currency", currency, ...digits }).format(amount);
}

/** A percentage (a tax rate of 0.2 → "20%"), by the page's locale. */
export const percent = (rate) => new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 2 }).format(rate);
export const when = (iso) => (iso ? new Date(iso).toLocaleString(locale()) : "–");
export const day = (iso) => new Date(`${iso}T00:00:00`).toLocaleDateString(locale(), { month: "short", day: "numeric" });
/** A time of day ("14:05"), by the page's locale; `seconds` adds them. */
export const clock = (time, { seconds = false } = {}) =>
  new Date(time).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}) });

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
}

export const secondsSince = (iso) => (Date.now() - new Date(iso).getTime()) / 1000;

/**
 * Hash routing between the <section data-view> of a shell: "#/chargers/CP1" shows the section
 * "chargers" ... routes map a path pattern ("chargers/:id") to {view, title, show(params)}; `title` is a catalog key.
 */
export function startRouter(routes, { fallback, guard }) {
  const compiled = routes.map((route) => ({ ...route, pattern: compile(route.path) }));

  async function render() {
    // "#/chargers?state=faulted": the part after "?" is the view's own (filters a link or a reload keeps).
    const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?", 2);
    const match = findRoute(compiled, path, new URLSearchParams(search));
    if (match && (!guard || guard(match.route))) return show(match);
    const target = fallback();
    if (path !== target) location.hash = `#/${target}`;
  }

  async function show({ route, params }) {
    $$("[data-view]").forEach((section) => { section.hidden = section.dataset.view !== route.view; });
    $$("nav a[href^='#/']").forEach((link) => {
      const active = link.getAttribute("href").slice(2).split("/")[0] === route.path.split("/")[0];
      if (active) {
        link.setAttribute("aria-current", "page");
        // A phone's one line of sections scrolls: the current one stays in sight.
        link.parentElement.scrollLeft = Math.max(0, link.offsetLeft - link.parentElement.offsetLeft - 16);
      } else link.removeAttribute("aria-current");
    });
    document.title = `${t(route.title)} · ${t(document.body.dataset.product)}`;
    const problem = $("#page-error");
    say(problem, "");
    const main = $("main");
    main.setAttribute("aria-busy", "true");
    try {
      await route.show(params);
    } catch (error) {
      say(problem, error.message, { error: true });
    } finally {
      main.removeAttribute("aria-busy");
    }
  }

  window.addEventListener("hashchange", render);
  render();
  return { render };
}

function compile(path) {
  const names = [];
  const source = path.replace(/:(\w+)/g, (_, name) => { names.push(name); return "([^/]+)"; });
  return { regex: new RegExp(`^${source}$`), names };
}

function findRoute(routes, path, query) {
  for (const route of routes) {
    const found = route.pattern.regex.exec(path);
    if (found) {
      const params = Object.fromEntries(route.pattern.names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { route, params: { ...params, query } };
    }
  }
  return null;
}

/** Call `fn` at most once per `wait` ms, trailing: many events in a burst cause one reload. */
export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

/** Bind a login (or signup) form: on success call `done`. */
export function bindLogin(form, output, login, done) {
  onSubmit(form, output, async ({ username, password }) => {
    await login(username.trim(), password);
    form.reset();
    await done();
  });
}

/** Download a Blob under `filename` (the CSV export needs the bearer token, so no plain link). */
export function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = el("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Previous / next buttons for a limit-offset listing. */
export function pager(container, { offset, limit, total, go }) {
  const last = Math.min(offset + limit, total);
  fill(
    container,
    el("span", { class: "muted", text: total ? t("common.range", { first: offset + 1, last, total }) : t("common.nothing_found") }),
    el("button", { type: "button", class: "secondary", text: t("common.previous"), disabled: offset === 0, onclick: () => go(Math.max(0, offset - limit)) }),
    el("button", { type: "button", class: "secondary", text: t("common.next"), disabled: last >= total, onclick: () => go(offset + limit) }),
  );
}

/** Whether the section of `view` is on screen: live events only touch what is shown. */
export const isShown = (view) => !$(`[data-view="${view}"]`).hidden;

const pollers = new Map();

/**
 * Call `load` every `ms` while the section of `view` is shown (one timer per view: showing it again restarts
 * it); a failed read shows on the page and the next one tries again.
 */
export function pollWhileShown(view, ms, load) {
  clearInterval(pollers.get(view));
  let failed = false;
  const timer = setInterval(async () => {
    if (!isShown(view)) {
      clearInterval(timer);
      pollers.delete(view);
      return;
    }
    try {
      await load();
      if (failed) say($("#page-error"), "");
      failed = false;
    } catch (error) {
      say($("#page-error"), error.message, { error: true });
      failed = true;
    }
  }, ms);
  pollers.set(view, timer);
}

/**
 * Ask before a destructive action: a modal dialog saying what `confirm` will do. Resolves true when the user
 * confirms, false on cancel or Escape. One dialog element serves every question.
 */
export function confirmAction({ title, text, confirm }) {
  const dialog = $("#confirm-dialog") || document.body.appendChild(el("dialog", { id: "confirm-dialog", class: "card stack", "aria-labelledby": "confirm-title" }));
  const answer = new Promise((resolve) => {
    const decide = (value) => () => { dialog.close(); resolve(value); };
    fill(dialog,
      el("h2", { id: "confirm-title", text: title }),
      el("p", { text }),
      el("div", { class: "inline" },
        el("button", { type: "button", class: "secondary", text: t("common.cancel"), onclick: decide(false) }),
        el("button", { type: "button", class: "danger", text: confirm, onclick: decide(true) })),
    );
    dialog.addEventListener("cancel", () => resolve(false), { once: true });
  });
  dialog.showModal();
  return answer;
}
