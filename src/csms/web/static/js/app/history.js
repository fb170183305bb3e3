// Charging history: the driver's sessions, newest first, filtered by dates and vehicle, as a list or CSV;
// one in detail with its charts, and its receipt (the record page printed).

import { costBreakdown, transactionCharts, transactionFacts } from "../transaction.js";
import { t } from "../i18n.js";
import { $, debounce, download, el, fill, formData, isShown, kwh, money, onSubmit, pager, when } from "../ui.js";

const LIMIT = 20;
let api;
let offset = 0;

export function init(context) {
  api = context.api;
  const reload = debounce(() => isShown("history") && show(), 300);
  context.hub.on("transaction_started", reload);
  context.hub.on("transaction_stopped", reload);
  onSubmit($("#history-filters"), $("#history-message"), async () => {
    offset = 0;
    await show();
  });
  $("#history-csv").addEventListener("click", async () => {
    try {
      download(await api.blob(`/api/transactions.csv?${filters()}`), "my-charging-records.csv");
    } catch (error) {
      $("#history-message").textContent = error.message;
    }
  });
  $("#print-receipt").addEventListener("click", () => {
    $("#receipt-printed").textContent = when(new Date().toISOString());
    window.print();
  });
}

/** The filter form as the API's query: dates are the driver's local days, `to` included. */
function filters() {
  const { from, to, vehicle_id: vehicleId } = formData($("#history-filters"));
  const query = new URLSearchParams();
  if (from) query.set("from", localMidnight(from).toISOString());
  if (to) {
    const dayAfter = localMidnight(to);
    dayAfter.setDate(dayAfter.getDate() + 1);
    query.set("to", dayAfter.toISOString());
  }
  if (vehicleId) query.set("vehicle_id", vehicleId);
  return query;
}

const localMidnight = (isoDay) => new Date(`${isoDay}T00:00:00`);

export async function show() {
  const query = filters();
  query.set("limit", LIMIT);
  query.set("offset", offset);
  const [{ items, total }, vehicles] = await Promise.all([api.page(`/api/transactions?${query}`), api.get("/api/me/vehicles")]);
  showVehicles(vehicles);
  const entries = items.map((session) => el(
    "li",
    { "data-transaction": session.id },
    el("a", { href: `#/history/${session.id}`, text: `${when(session.start_timestamp)} · ${session.charge_point_id}` }),
    el("span", { class: "amounts" },
      el("strong", { class: "energy", text: session.is_active ? t("app.history.charging", { energy: kwh(session.energy_wh) }) : kwh(session.energy_wh) }),
      session.cost != null ? el("span", { class: "cost", text: money(session.cost, session.currency) }) : null),
  ));
  fill($("#history-list"), ...(entries.length ? entries : [el("li", { text: t("app.history.none") })]));
  pager($("#history-pager"), { offset, limit: LIMIT, total, go: (next) => { offset = next; show(); } });
}

/** The vehicle choices, keeping the one chosen. */
function showVehicles(vehicles) {
  const select = $("#history-filters select[name=vehicle_id]");
  const chosen = select.value;
  fill(select,
    el("option", { value: "", text: t("app.history.any_vehicle") }),
    ...vehicles.map((vehicle) => el("option", { value: vehicle.id, text: vehicle.name, selected: String(vehicle.id) === chosen })));
}

export async function showOne({ id }) {
  const transaction = await api.get(`/api/transactions/${Number(id)}`);
  $("#record-title").textContent = t("app.record.title_id", { id: transaction.id });
  fill($("#record-facts"), transactionFacts(transaction));
  $("#record-cost").hidden = !transaction.cost_breakdown;
  if (transaction.cost_breakdown) fill($("#record-cost"), el("h2", { text: t("tx.cost") }), costBreakdown(transaction.cost_breakdown));
  $("#print-receipt").hidden = transaction.is_active;  // a receipt is for a finished session
  fill($("#record-charts"), el("h2", { text: t("tx.energy_and_power") }), transactionCharts(transaction));
}
