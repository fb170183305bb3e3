// The running session, live: energy, power and duration follow the charger's MeterValues; on a site, the power
// csms allows the car (it changes as other cars come and go, so it is read again every few seconds).

import { t } from "../i18n.js";
import { $, decimal, duration, isShown, kw, kwh, money, say, secondsSince } from "../ui.js";

let api;
let active = null;
let waitingSince = 0;
let ticker = null;
let allowanceTimer = null;
const ALLOWANCE_REFRESH_MS = 5000;
// The newest meter_values event: it may arrive while the session is still being loaded.
let lastMeter = null;
// The session that just stopped: its cost comes a moment later, in charging_finished.
let finished = null;

/** The charger accepted a start: its StartTransaction is on the way. */
export function expectStart() {
  waitingSince = Date.now();
}

export function init(context) {
  api = context.api;
  context.hub.on("open", () => isShown("session") && show());
  context.hub.on("transaction_started", () => isShown("session") && show());
  context.hub.on("meter_values", onMeterValues);
  context.hub.on("transaction_stopped", onStopped);
  context.hub.on("charging_finished", onPriced);
  context.hub.on("charging_failed", onPriced);
  $("#stop").addEventListener("click", () => stop().catch((error) => say($("#session-message"), error.message, { error: true })));
}

export async function show() {
  active = await activeSession();
  if (active) waitingSince = 0;
  render();
}

async function activeSession() {
  const { items } = await api.page("/api/transactions?limit=5");
  return items.find((transaction) => transaction.is_active) || null;
}

function render() {
  const waiting = !active && Date.now() - waitingSince < 120000;
  $("#live").hidden = !active;
  $("#no-session").hidden = Boolean(active) || waiting;
  if (waiting) say($("#session-message"), t("app.session.waiting"));
  else if (active) say($("#session-message"), "");
  clearInterval(ticker);
  clearInterval(allowanceTimer);
  if (!active) return;
  $("#live-where").textContent = t("common.connector_of", { charger: active.charge_point_id, connector: active.connector_id });
  $("#live-energy").textContent = kwh(active.energy_wh);
  $("#live-power").textContent = "–";
  $("#live-cost").textContent = money(active.cost, active.currency);
  if (lastMeter?.transaction_id === active.id) showMeter(lastMeter);
  showAllowance(active);
  $("#stop").disabled = false;
  tick();
  ticker = setInterval(tick, 1000);
  allowanceTimer = setInterval(refreshAllowance, ALLOWANCE_REFRESH_MS);
}

/** What the site lets the car take now (hidden off a site): power, and the current per phase. */
function showAllowance(transaction) {
  const onSite = transaction.allowed_current_a !== null && transaction.allowed_current_a !== undefined;
  $("#live-allowance").hidden = !onSite;
  if (!onSite) return;
  $("#live-allowed").textContent = kw(transaction.allowed_power_w);
  $("#live-allowed-detail").textContent = transaction.allowed_current_a > 0
    ? t("app.session.per_phase", { current: decimal(transaction.allowed_current_a, 1) })
    : t("app.session.waiting_for_power");
}

async function refreshAllowance() {
  if (!active || !isShown("session")) return;
  try {
    const now = await activeSession();
    if (now && active && now.id === active.id) showAllowance(now);
  } catch {
    // The next refresh tries again; the live figures stay as they are.
  }
}

function tick() {
  if (active) $("#live-duration").textContent = duration(secondsSince(active.start_timestamp));
}

function onMeterValues(event) {
  lastMeter = event;
  if (active && event.transaction_id === active.id) showMeter(event);
}

function showMeter(event) {
  $("#live-energy").textContent = kwh(event.energy_wh);
  $("#live-power").textContent = kw(event.power_w);
  if (event.cost_so_far != null) $("#live-cost").textContent = money(event.cost_so_far, active?.currency);
}

function onStopped(event) {
  if (!active || event.transaction_id !== active.id) return;
  clearInterval(ticker);
  clearInterval(allowanceTimer);
  const currency = active.currency;
  active = null;
  $("#live").hidden = true;
  $("#no-session").hidden = false;
  // charging_finished may have come first, with the cost.
  if (finished?.id !== event.transaction_id) finished = { id: event.transaction_id, energy_wh: event.energy_wh, currency, priced: false };
  sayFinished();
}

/** charging_finished (or _failed) carries the session's final cost, priced once it stopped. */
function onPriced(event) {
  if (finished?.id !== event.transaction_id && active?.id !== event.transaction_id) return;
  finished = { id: event.transaction_id, energy_wh: event.energy_wh, cost: event.cost, currency: event.currency, priced: true };
  if (!active) sayFinished();
}

function sayFinished() {
  const { energy_wh, cost, currency, priced } = finished;
  const energy = kwh(energy_wh);
  let text = t("app.session.finished", { energy });
  if (cost != null) text = t("app.session.finished_cost", { energy, cost: money(cost, currency) });
  else if (!priced && currency) text = t("app.session.finished_pricing", { energy });
  say($("#session-message"), text);
}

async function stop() {
  $("#stop").disabled = true;
  say($("#session-message"), t("app.session.stopping"));
  // The charger may stop (and transaction_stopped arrive) before this answer does.
  const answer = await api.post("/api/stop_charging", { transaction_id: active.id });
  if (answer.status !== "Accepted") {
    $("#stop").disabled = false;
    throw new Error(t("app.session.stop_refused", { status: answer.status }));
  }
}
