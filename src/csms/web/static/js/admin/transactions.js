// Transactions: filters, sort, pages, CSV export, a remote stop; one session in detail with its energy and power charts.

import { transactionCharts, transactionFacts } from "../transaction.js";
import { t } from "../i18n.js";
import { $, badge, confirmAction, debounce, download, duration, el, fill, fillRows, formData, isShown, kwh, money, onSubmit, pager, say, when } from "../ui.js";

const LIMIT = 25;
let api;
let filters = new URLSearchParams();
let offset = 0;
let shownId = null;

export function init(context) {
  api = context.api;
  const reloadList = debounce(() => isShown("transactions") && show(), 1000);
  const reloadOne = debounce(() => isShown("transaction") && showOne({ id: shownId }), 1000);
  for (const kind of ["open", "transaction_started", "transaction_stopped", "meter_values"]) {
    context.hub.on(kind, reloadList);
    context.hub.on(kind, (event) => (kind === "open" || event.transaction_id === shownId) && reloadOne());
  }
  onSubmit($("#transaction-filters"), $("#transactions-message"), async (fields) => {
    filters = toQuery(fields);
    offset = 0;
    await show();
  });
  $("#export-csv").addEventListener("click", async () => {
    const blob = await api.blob(`/api/admin/transactions.csv?${toQuery(formData($("#transaction-filters")))}`);
    download(blob, "charging-records.csv");
  });
}

/** Form fields to query parameters; dates are local midnights. */
function toQuery(fields) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    if (!value) continue;
    query.set(name, name === "from" || name === "to" ? new Date(`${value}T00:00:00`).toISOString() : value.trim());
  }
  return query;
}

export async function show() {
  const query = new URLSearchParams(filters);
  query.set("limit", LIMIT);
  query.set("offset", offset);
  const { items, total } = await api.page(`/api/admin/transactions?${query}`);
  const rows = items.map(transactionRow);
  fillRows($("#transactions-table tbody"), rows, t("admin.transactions.none"));
  pager($("#transactions-pager"), { offset, limit: LIMIT, total, go: (next) => { offset = next; show(); } });
}

function transactionRow(tx) {
  const open = () => { location.hash = `#/transactions/${tx.id}`; };
  const inside = (event) => event.stopPropagation();  // a link or button in the row does its own thing
  return el(
    "tr",
    { class: "clickable", onclick: open, "data-transaction": tx.id },
    el("td", { class: "num" }, el("a", { href: `#/transactions/${tx.id}`, text: String(tx.id) })),
    el("td", { text: `${tx.charge_point_id} / ${tx.connector_id}` }),
    el("td", { onclick: inside }, accountOf(tx)),
    el("td", {}, el("code", { text: tx.id_tag })),
    el("td", { text: when(tx.start_timestamp) }),
    el("td", { text: duration(tx.duration_seconds) }),
    el("td", { class: "num", text: kwh(tx.energy_wh) }),
    el("td", { class: "num", text: money(tx.cost, tx.currency) }),
    el("td", {}, ...stateBadges(tx)),
    el("td", { onclick: inside }, stopButton(tx, { output: $("#transactions-message"), done: show })),
  );
}

/** The account's name linking to its page; the id alone once the account is gone, or a dash for no account. */
function accountOf(tx) {
  if (tx.user_id === null) return el("span", { text: "–" });
  return el("a", { href: `#/users/${tx.user_id}`, text: tx.username ?? `#${tx.user_id}` });
}

/** Staff stop a session that charges (RemoteStopTransaction): asked first, it ends the driver's charging. */
function stopButton(tx, { output, done }) {
  if (!tx.is_active) return null;
  const stop = async () => {
    const confirmed = await confirmAction({
      title: t("admin.transactions.stop_title", { id: tx.id }),
      text: t("admin.transactions.stop_explained", { charger: tx.charge_point_id }),
      confirm: t("admin.transactions.stop_confirm"),
    });
    if (!confirmed) return;
    try {
      const answer = await api.post("/api/stop_charging", { transaction_id: tx.id });
      say(output, t("admin.transactions.stop_answered", { id: tx.id, status: answer.status }), { error: answer.status !== "Accepted" });
    } catch (error) {
      say(output, error.message, { error: true });
    }
    await done();
  };
  return el("button", { type: "button", class: "danger", text: t("admin.transactions.stop"), "aria-label": t("admin.transactions.stop_named", { id: tx.id }), onclick: stop });
}

/** Charging or done, and what staff should know: a refused start, a stale or csms-closed record, a meter gone backwards. */
export function stateBadges(tx) {
  const open = tx.stop_timestamp === null;
  const state = tx.is_active
    ? badge(t("admin.transactions.charging"), "Charging")
    : open ? badge(t("admin.transactions.refused", { status: tx.id_tag_status }), "Unknown") : badge(t("admin.transactions.done"), "Available");
  const closedBy = { superseded: t("admin.transactions.superseded"), staff: t("admin.transactions.closed_by_staff") }[tx.closed_by];
  return [
    state,
    tx.is_stale ? badge(t("admin.transactions.stale"), "Reserved") : null,
    closedBy ? badge(closedBy, "Reserved") : null,
    tx.meter_went_backwards ? badge(t("admin.transactions.meter_backwards"), "Faulted") : null,
  ].filter(Boolean);
}

/** Staff close a session its charger never stopped (closed_by "staff", at its last meter reading). */
function closeButton(transaction) {
  if (transaction.stop_timestamp !== null) return null;
  const output = el("span", { role: "status", "aria-live": "polite" });
  const close = async () => {
    try {
      await api.post(`/api/admin/transactions/${transaction.id}/close`, {});
      await showOne({ id: transaction.id });
    } catch (error) {
      say(output, error.message, { error: true });
    }
  };
  return el("p", {}, el("button", { type: "button", class: "danger", text: t("admin.transactions.close"), onclick: close }), output);
}

function accountLine(transaction) {
  if (transaction.user_id === null) return null;
  return el("p", {}, el("a", { href: `#/users/${transaction.user_id}`, text: t("admin.transactions.open_account") }));
}

export async function showOne({ id }) {
  if (shownId !== Number(id)) say($("#transaction-message"), "");
  shownId = Number(id);
  const transaction = await api.get(`/api/transactions/${shownId}`);
  $("#transaction-title").textContent = t("app.record.title_id", { id: transaction.id });
  const stop = stopButton(transaction, { output: $("#transaction-message"), done: () => showOne({ id: transaction.id }) });
  fill($("#transaction-facts"), el("div", {}, ...stateBadges(transaction)), transactionFacts(transaction), accountLine(transaction),
    stop ? el("p", {}, stop) : null, closeButton(transaction));
  fill($("#transaction-charts"), el("h2", { text: t("tx.energy_and_power") }), transactionCharts(transaction));
}
