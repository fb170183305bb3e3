// Overview: chargers online, offline, charging, faulted and unavailable (each a link to that list); energy today
// and per day.

import { barChart } from "../chart.js";
import { t } from "../i18n.js";
import { $, day, debounce, decimal, el, fill, isShown, kwh, when } from "../ui.js";

const DAYS = 14;
const RENEWAL_DAYS = 30;
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
  const [counts, energy, expiring] = await Promise.all([
    api.get("/api/admin/stats/chargers"),
    api.get(`/api/admin/stats/energy?days=${DAYS}&tz=${encodeURIComponent(zone)}`),
    api.get(`/api/admin/certificates/expiring?within_days=${RENEWAL_DAYS}`),
  ]);
  showExpiring(expiring);
  $("#stat-online").textContent = counts.online;
  $("#stat-offline").textContent = counts.offline;
  $("#stat-charging").textContent = counts.charging;
  for (const alarm of ["faulted", "unavailable"]) {
    const value = $(`#stat-${alarm}`);
    value.textContent = counts[alarm];
    value.parentElement.classList.toggle("raised", counts[alarm] > 0);
  }
  $("#stat-energy-today").textContent = kwh(energy.at(-1)?.energy_wh);
  const bars = energy.map((entry, i) => ({
    label: day(entry.day),
    value: entry.energy_wh,
    highlight: i === energy.length - 1,
    title: t("admin.overview.bar_title", { day: day(entry.day), energy: kwh(entry.energy_wh), count: entry.sessions }),
  }));
  const chart = barChart(bars, { label: t("admin.overview.chart_label", { days: DAYS }), format: (wh) => decimal(wh / 1000, 0) });
  fill($("#energy-chart"), chart);
}

function showExpiring(certificates) {
  $("#expiring-certificates-card").hidden = certificates.length === 0;
  const items = certificates.map((certificate) =>
    el(
      "li",
      {},
      el("a", { href: `#/chargers/${encodeURIComponent(certificate.charge_point_id)}`, text: certificate.charge_point_id }),
      ` ${t("admin.overview.expires", { type: certificate.certificate_type, name: certificate.subject || certificate.serial_number, when: when(certificate.not_after) })}`,
    ),
  );
  fill($("#expiring-certificates"), ...items);
}
