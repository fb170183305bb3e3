// Overview: chargers online, offline and charging; energy today and per day.

import { barChart } from "../chart.js";
import { $, day, debounce, fill, isShown, kwh } from "../ui.js";

const DAYS = 14;
let api;

export function init(context) {
  api = context.api;
  const refresh = debounce(() => isShown("overview") && show(), 500);
  for (const kind of ["open", "connector_status", "charger_connected", "charger_disconnected", "transaction_started", "transaction_stopped"]) {
    context.hub.on(kind, refresh);
  }
}

export async function show() {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const [counts, energy] = await Promise.all([
    api.get("/api/admin/stats/chargers"),
    api.get(`/api/admin/stats/energy?days=${DAYS}&tz=${encodeURIComponent(zone)}`),
  ]);
  $("#stat-online").textContent = counts.online;
  $("#stat-offline").textContent = counts.offline;
  $("#stat-charging").textContent = counts.charging;
  $("#stat-energy-today").textContent = kwh(energy.at(-1)?.energy_wh);
  const bars = energy.map((entry, i) => ({
    label: day(entry.day),
    value: entry.energy_wh,
    highlight: i === energy.length - 1,
    title: `${day(entry.day)}: ${kwh(entry.energy_wh)} in ${entry.sessions} sessions`,
  }));
  const chart = barChart(bars, { label: `Energy delivered per day over the last ${DAYS} days`, format: (wh) => (wh / 1000).toFixed(0) });
  fill($("#energy-chart"), chart);
}
