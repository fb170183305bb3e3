// Charging history: the driver's sessions, newest first, and one in detail with its charts.

import { costBreakdown, transactionCharts, transactionFacts } from "../transaction.js";
import { $, debounce, el, fill, isShown, kwh, money, pager } from "../ui.js";

const LIMIT = 20;
let api;
let offset = 0;

export function init(context) {
  api = context.api;
  const reload = debounce(() => isShown("history") && show(), 300);
  context.hub.on("transaction_started", reload);
  context.hub.on("transaction_stopped", reload);
}

export async function show() {
  const { items, total } = await api.page(`/api/transactions?limit=${LIMIT}&offset=${offset}`);
  const entries = items.map((t) => el(
    "li",
    { "data-transaction": t.id },
    el("a", { href: `#/history/${t.id}`, text: `${new Date(t.start_timestamp).toLocaleString()} · ${t.charge_point_id}` }),
    el("span", { class: "amounts" },
      el("strong", { class: "energy", text: t.is_active ? `${kwh(t.energy_wh)} (charging)` : kwh(t.energy_wh) }),
      t.cost != null ? el("span", { class: "cost", text: money(t.cost, t.currency) }) : null),
  ));
  fill($("#history-list"), ...(entries.length ? entries : [el("li", { text: "No charging sessions yet." })]));
  pager($("#history-pager"), { offset, limit: LIMIT, total, go: (next) => { offset = next; show(); } });
}

export async function showOne({ id }) {
  const transaction = await api.get(`/api/transactions/${Number(id)}`);
  $("#record-title").textContent = `Charging session ${transaction.id}`;
  fill($("#record-facts"), transactionFacts(transaction));
  $("#record-cost").hidden = !transaction.cost_breakdown;
  if (transaction.cost_breakdown) fill($("#record-cost"), el("h2", { text: "Cost" }), costBreakdown(transaction.cost_breakdown));
  fill($("#record-charts"), el("h2", { text: "Energy and power" }), transactionCharts(transaction));
}
