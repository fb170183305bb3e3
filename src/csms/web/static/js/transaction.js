// One charging record in detail, with its energy and power charts: shown by the dashboard and the app.

import { lineChart } from "./chart.js";
import { t } from "./i18n.js";
import { decimal, duration, el, kw, kwh, money, when } from "./ui.js";

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
    [t("tx.charger"), t("common.connector_of", { charger: transaction.charge_point_id, connector: transaction.connector_id })],
    [t("tx.started"), when(transaction.start_timestamp)],
    [t("tx.stopped"), transaction.stop_timestamp ? when(transaction.stop_timestamp) : transaction.is_active ? t("tx.still_charging") : t("tx.never_started")],
    [t("tx.duration"), duration(transaction.duration_seconds)],
    [t("tx.energy"), kwh(transaction.energy_wh)],
    [t("tx.cost"), transaction.cost != null ? costText(transaction) : t("tx.no_tariff")],
    [t("tx.id_tag"), transaction.id_tag],
    [t("tx.stop_reason"), transaction.stop_reason || "–"],
  ];
  if (transaction.closed_by && transaction.closed_by !== "charger") {
    facts.push([t("tx.closed_by"), transaction.closed_by === "staff" ? t("tx.closed_by_staff") : t("tx.closed_by_csms")]);
  }
  if (transaction.meter_went_backwards) facts.push([t("tx.meter"), t("tx.meter_backwards")]);
  return el("dl", { class: "facts" }, ...facts.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: value })]));
}

const costText = (transaction) =>
  transaction.is_active ? t("tx.cost_so_far", { cost: money(transaction.cost, transaction.currency) }) : money(transaction.cost, transaction.currency);

/** What a session's cost is made of (the API's cost_breakdown): each part, net, tax and total. */
export function costBreakdown(breakdown) {
  const parts = [
    [t("tx.energy"), breakdown.energy],
    [t("tx.charging_time"), breakdown.charging_time],
    [t("tx.idle_time"), breakdown.idle_time],
    [t("tx.session_fee"), breakdown.session_fee],
  ].filter(([, amount]) => Number(amount) !== 0);
  const rows = [...parts, [t("tx.net"), breakdown.net], [t("tx.tax"), breakdown.tax], [t("tx.total"), breakdown.total]];
  return el("dl", { class: "facts cost-breakdown" },
    ...rows.flatMap(([term, amount]) => [el("dt", { text: term }), el("dd", { class: "num", text: money(amount, breakdown.currency) })]));
}

export function transactionCharts(transaction) {
  const meterValues = transaction.meter_values || [];
  const energy = series(meterValues, ENERGY).map((point) => ({ x: point.x, y: point.y - transaction.meter_start }));
  const power = series(meterValues, POWER);
  if (energy.length === 0 && power.length === 0) {
    return el("p", { class: "muted", text: t("tx.no_meter_values") });
  }
  return el(
    "div",
    { class: "stack" },
    el("figure", { class: "chart" }, el("figcaption", { text: t("tx.energy_chart") }),
      lineChart(energy, { label: t("tx.energy_chart_label"), format: (wh) => decimal(wh / 1000, 1) })),
    el("figure", { class: "chart" }, el("figcaption", { text: t("tx.power_chart") }),
      lineChart(power, { label: t("tx.power_chart_label"), format: (w) => decimal(w / 1000, 1) })),
  );
}
