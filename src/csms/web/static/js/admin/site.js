// One site: its limit and where it comes from, a live bar per charging session and the site's total against
// the limit, the chart of its current over the day, and the forms that change it (override, windows, settings).

import { stepChart } from "../chart.js";
import { t } from "../i18n.js";
import { $, $$, badge, debounce, decimal, el, fill, isShown, onSubmit, pollWhileShown, say, when } from "../ui.js";
import { REFRESH_MS, amps, chargerIds, drawnText, meter, siteMeter } from "./sites.js";

// The allocator keeps about one sample a minute: the chart is read again as often.
const CHART_REFRESH_MS = 60000;
const STATES = {
  charging: { text: () => t("admin.site.state.charging"), badge: "Charging" },
  waiting: { text: () => t("admin.site.state.waiting"), badge: "Reserved" },
  unresponsive: { text: () => t("admin.site.state.unresponsive"), badge: "Faulted" },
};

let api;
let current = null; // the site shown, as last read
let chartReadAt = 0;
let samples = [];

const path = (suffix = "") => `/api/admin/sites/${current.id}${suffix}`;
const onSite = (event) => isShown("site") && current?.charge_point_ids.includes(event.charge_point_id);

export function init(context) {
  api = context.api;
  const reload = debounce(() => isShown("site") && load(), 500);
  context.hub.on("open", reload);
  for (const kind of ["transaction_started", "transaction_stopped", "meter_values", "charger_connected", "charger_disconnected"]) {
    context.hub.on(kind, (event) => onSite(event) && reload());
  }
  onSubmit($("#site-override"), $("#site-override-message"), async (fields) => {
    const body = { max_current_a: Number(fields.max_current_a), until: fields.until ? new Date(fields.until).toISOString() : null };
    changed(await api.put(path("/limit"), body), $("#site-override-message"), t("admin.site.override_set", { current: amps(body.max_current_a) }));
  });
  $("#clear-override").addEventListener("click", async () => {
    try {
      changed(await api.delete(path("/limit")), $("#site-override-message"), t("admin.site.override_cleared"));
    } catch (error) {
      say($("#site-override-message"), error.message, { error: true });
    }
  });
  $("#add-window").addEventListener("click", () => $("#site-window-rows").append(windowRow({ start: "17:00", end: "20:00", max_current_a: "" })));
  onSubmit($("#site-windows"), $("#site-windows-message"), async () => {
    const windows = $$("#site-window-rows .window").map((row) => ({
      start: $("[name=start]", row).value, end: $("[name=end]", row).value, max_current_a: Number($("[name=max_current_a]", row).value),
    }));
    changed(await api.put(path("/limit_windows"), windows), $("#site-windows-message"), t("admin.site.windows_saved"));
    fillWindows(current);
  });
  onSubmit($("#site-settings"), $("#site-settings-message"), async (fields) => {
    const body = {
      ...fields, name: fields.name.trim(), timezone: fields.timezone.trim(), charge_point_ids: chargerIds(fields.charge_point_ids),
      ...Object.fromEntries(["max_current_a", "phases", "min_current_a", "charger_max_current_a"].map((name) => [name, Number(fields[name])])),
    };
    changed(await api.patch(path(), body), $("#site-settings-message"), t("admin.site.settings_saved"));
    fillSettings(current);
  });
  $("#site-chart-range").addEventListener("change", () => loadChart().catch((error) => say($("#page-error"), error.message, { error: true })));
}

/** The API answered a change with the site as it is now: show it, say so. */
function changed(site, output, message) {
  showLive(site);
  say(output, message);
  loadChart().catch(() => {});
}

export async function show({ id }) {
  current = null;
  chartReadAt = 0;
  for (const output of ["#site-override-message", "#site-windows-message", "#site-settings-message"]) say($(output), "");
  current = await api.get(`/api/admin/sites/${encodeURIComponent(id)}`);
  showLive(current);
  fillWindows(current);
  fillSettings(current);
  $("#site-override").reset();
  await loadChart();
  pollWhileShown("site", REFRESH_MS, load);
}

async function load() {
  if (!current) return;
  showLive(await api.get(path()));
  if (Date.now() - chartReadAt >= CHART_REFRESH_MS) await loadChart();
  else drawChart();
}

/** What changes on its own: the limit in force, the totals, the sessions. Forms are left as the operator typed. */
function showLive(site) {
  current = site;
  $("#site-title").textContent = t("admin.site.title_name", { name: site.name });
  fill($("#site-total"), siteMeter(site));
  fill($("#site-facts"), ...facts(site).flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value ?? "–")]));
  fill($("#site-override-now"), overrideText(site));
  const rows = site.sessions.map((allocation) => sessionRow(site, allocation));
  fill($("#site-sessions"), ...(rows.length ? rows : [el("li", { class: "muted", text: t("admin.site.no_sessions") })]));
}

function facts(site) {
  const chargers = site.charge_point_ids.flatMap((id, i) => [i ? ", " : "", el("a", { href: `#/chargers/${encodeURIComponent(id)}`, text: id })]);
  return [
    [t("admin.site.fact.limit"), t("admin.site.fact.limit_value", { current: amps(site.limit_in_force_a), source: limitSource(site) })],
    [t("admin.site.fact.grid"), site.phases === 1
      ? t("admin.site.fact.grid_one", { current: amps(site.max_current_a) })
      : t("admin.site.fact.grid_three", { current: amps(site.max_current_a) })],
    [t("admin.site.fact.minimum"), amps(site.min_current_a)],
    [t("admin.site.fact.charger_max"), amps(site.charger_max_current_a)],
    [t("admin.site.fact.sharing"), site.strategy === "priority" ? t("admin.site.fact.by_priority") : t("admin.site.fact.equal")],
    [t("admin.site.fact.timezone"), site.timezone],
    [t("admin.site.fact.chargers"), chargers.length ? el("span", {}, ...chargers) : null],
    [t("admin.site.fact.node"), site.allocator_node],
  ];
}

const overrideRuns = (site) => site.limit_override_a !== null && (!site.limit_override_until || new Date(site.limit_override_until) > new Date());

/** Why this limit: the override, the window of the day (site time) that covers now, or the grid connection. */
function limitSource(site) {
  if (overrideRuns(site)) return t("admin.site.source.override");
  const now = new Intl.DateTimeFormat("en-GB", { timeZone: site.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date());
  const covering = site.limit_windows.find((w) => (w.start <= w.end ? w.start <= now && now < w.end : now >= w.start || now < w.end));
  return covering ? t("admin.site.source.window", { start: covering.start, end: covering.end }) : t("admin.site.source.grid");
}

function overrideText(site) {
  if (!overrideRuns(site)) return t("admin.site.no_override");
  const current = amps(site.limit_override_a);
  if (!site.limit_override_until) return t("admin.site.override_until_cleared", { current });
  return t("admin.site.override_until", { current, until: when(site.limit_override_until) });
}

function sessionRow(site, allocation) {
  const state = STATES[allocation.state] || { text: () => allocation.state, badge: "Unknown" };
  const drawn = drawnText(allocation.drawn_a);
  const texts = {
    charging: t("admin.site.allowed", { current: amps(allocation.limit_a) }) + drawn,
    waiting: t("admin.site.waiting_for_power") + drawn,
    unresponsive: t("admin.site.unresponsive", { current: amps(allocation.counted_a) }) + drawn,
  };
  const where = `${allocation.charge_point_id} · ${allocation.connector_id}`;
  return el(
    "li",
    { class: "allocation", "data-session": allocation.transaction_id, "data-state": allocation.state },
    el(
      "div",
      { class: "allocation-head" },
      el("a", { href: `#/chargers/${encodeURIComponent(allocation.charge_point_id)}`, text: where }),
      el("a", { href: `#/transactions/${allocation.transaction_id}`, text: t("admin.site.session", { id: allocation.transaction_id }) }),
      badge(state.text(), state.badge),
    ),
    meter({
      value: allocation.state === "unresponsive" ? allocation.counted_a : allocation.limit_a,
      max: site.charger_max_current_a, drawn: allocation.drawn_a, kind: allocation.state === "charging" ? "" : allocation.state,
      label: t("admin.site.session_on", { id: allocation.transaction_id, where }), text: texts[allocation.state] || amps(allocation.limit_a),
    }),
  );
}

function windowRow(window) {
  const row = el(
    "div",
    { class: "window inline" },
    el("label", {}, t("admin.site.window.from"), el("input", { name: "start", type: "time", required: true, value: window.start })),
    el("label", {}, t("admin.site.window.to"), el("input", { name: "end", type: "time", required: true, value: window.end })),
    el("label", {}, t("admin.site.window.limit"), el("input", { name: "max_current_a", type: "number", min: 0, max: 10000, step: 0.1, required: true, value: window.max_current_a })),
  );
  row.append(el("button", { type: "button", class: "secondary", text: t("admin.site.window.remove"), "aria-label": t("admin.site.window.remove_this"), onclick: () => row.remove() }));
  return row;
}

function fillWindows(site) {
  $("#site-windows-zone").textContent = t("admin.site.windows_zone", { zone: site.timezone });
  fill($("#site-window-rows"), ...site.limit_windows.map(windowRow));
}

function fillSettings(site) {
  const form = $("#site-settings");
  for (const name of ["name", "max_current_a", "phases", "min_current_a", "charger_max_current_a", "strategy", "timezone"]) {
    form.elements[name].value = String(site[name]);
  }
  form.elements.charge_point_ids.value = site.charge_point_ids.join(", ");
}

async function loadChart() {
  const hours = Number($("#site-chart-range").elements.hours.value);
  samples = await api.get(path(`/samples?hours=${hours}`));
  chartReadAt = Date.now();
  drawChart();
}

/** The samples, and the site as just read as the last point: the chart reaches now. */
function drawChart() {
  const hours = Number($("#site-chart-range").elements.hours.value);
  const end = Date.now();
  const points = [
    ...samples.map((sample) => ({ ...sample, at: new Date(sample.at) })),
    { at: new Date(end), limit_a: current.limit_in_force_a, allocated_a: current.allocated_a, drawn_a: current.drawn_a },
  ];
  const series = ["limit", "allocated", "drawn"].map((kind) => ({
    kind, points: points.map((point) => ({ x: point.at, y: point[`${kind}_a`] ?? null })),
  }));
  // Nothing was sampled before the site existed: a new site's chart starts when it was made.
  const start = Math.max(end - hours * 3600 * 1000, new Date(current.created_at).getTime());
  const label = t("admin.site.chart_label", { name: current.name });
  fill($("#site-chart"), stepChart(series, { label, format: (a) => decimal(a, 0), start, end }));
}
