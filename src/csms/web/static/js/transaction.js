// One charging record in detail, with its energy and power charts: shown by the dashboard and the app.

import { lineChart } from "./chart.js";
import { duration, el, kw, kwh, money, when } from "./ui.js";

const ENERGY = "Energy.Active.Import.Register";
const POWER = "Power.Active.Import";

/** Values of one measurand in base units (Wh, W), whole-charger readings only (no phase). */
function series(meterValues, measurand) {
  return meterValues
    .filter((value) => value.measurand === measurand && !value.phase)
    .map((value) => {
      const scale = value.unit && value.unit.startsWith("k") ? 1000 : 1;
      return { x: new Date(value.timestamp), y: Number(value.value) * scale };
    })
    .filter((point) => Number.isFinite(point.y));
}

export function transactionFacts(transaction) {
  const facts = [
    ["Charger", `${transaction.charge_point_id} · connector ${transaction.connector_id}`],
    ["Started", when(transaction.start_timestamp)],
    ["Stopped", transaction.stop_timestamp ? when(transaction.stop_timestamp) : transaction.is_active ? "still charging" : "not yet (its start was refused)"],
    ["Duration", duration(transaction.duration_seconds)],
    ["Energy", kwh(transaction.energy_wh)],
    ["Cost", transaction.cost != null ? `${money(transaction.cost, transaction.currency)}${transaction.is_active ? " so far" : ""}` : "no tariff"],
    ["idTag", transaction.id_tag],
    ["Stop reason", transaction.stop_reason || "–"],
  ];
  if (transaction.closed_by && transaction.closed_by !== "charger") {
    facts.push(["Closed by", transaction.closed_by === "staff" ? "staff (the charger never stopped it)" : "csms: superseded on its connector"]);
  }
  if (transaction.meter_went_backwards) facts.push(["Meter", "went backwards: no negative energy is booked"]);
  return el("dl", { class: "facts" }, ...facts.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]));
}

/** What a session's cost is made of (the API's cost_breakdown): each part, net, tax and total. */
export function costBreakdown(breakdown) {
  const parts = [
    ["Energy", breakdown.energy],
    ["Charging time", breakdown.charging_time],
    ["Idle time", breakdown.idle_time],
    ["Session fee", breakdown.session_fee],
  ].filter(([, amount]) => Number(amount) !== 0);
  const rows = [...parts, ["Net", breakdown.net], ["Tax", breakdown.tax], ["Total", breakdown.total]];
  return el("dl", { class: "facts cost-breakdown" },
    ...rows.flatMap(([term, amount]) => [el("dt", { text: term }), el("dd", { class: "num", text: money(amount, breakdown.currency) })]));
}

export function transactionCharts(transaction) {
  const meterValues = transaction.meter_values || [];
  const energy = series(meterValues, ENERGY).map((point) => ({ x: point.x, y: point.y - transaction.meter_start }));
  const power = series(meterValues, POWER);
  if (energy.length === 0 && power.length === 0) {
    return el("p", { class: "muted", text: "No meter values were sent for this session." });
  }
  return el(
    "div",
    { class: "stack" },
    el("figure", { class: "chart" }, el("figcaption", { text: "Energy (kWh)" }),
      lineChart(energy, { label: "Energy delivered over time", format: (wh) => (wh / 1000).toFixed(1) })),
    el("figure", { class: "chart" }, el("figcaption", { text: "Power (kW)" }),
      lineChart(power, { label: "Charging power over time", format: (w) => kw(w).replace(" kW", "") })),
  );
}
