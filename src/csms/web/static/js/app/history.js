// Charging history: the driver's sessions, newest first, and one in detail with its charts.

import { costBreakdown, transactionCharts, transactionFacts } from "../transaction.js";
import { t } from "../i18n.js";
import { $, debounce, el, fill, isShown, kwh, money, pager, when } from "../ui.js";

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

export async function showOne({ id }) {
  const transaction = await api.get(`/api/transactions/${Number(id)}`);
  $("#record-title").textContent = t("app.record.title_id", { id: transaction.id });
  fill($("#record-facts"), transactionFacts(transaction));
  $("#record-cost").hidden = !transaction.cost_breakdown;
  if (transaction.cost_breakdown) fill($("#record-cost"), el("h2", { text: t("tx.cost") }), costBreakdown(transaction.cost_breakdown));
  fill($("#record-charts"), el("h2", { text: t("tx.energy_and_power") }), transactionCharts(transaction));
}
