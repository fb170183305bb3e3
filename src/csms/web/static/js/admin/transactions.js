// Transactions: filters, pages, CSV export; one session in detail with its energy and power charts.

import { transactionCharts, transactionFacts } from "../transaction.js";
import { $, badge, debounce, download, el, fill, formData, isShown, kwh, onSubmit, pager, say, when, duration } from "../ui.js";

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
  fill($("#transactions-table tbody"), ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, text: "No charging sessions." }))]));
  pager($("#transactions-pager"), { offset, limit: LIMIT, total, go: (next) => { offset = next; show(); } });
}

function transactionRow(t) {
  const open = () => { location.hash = `#/transactions/${t.id}`; };
  return el(
    "tr",
    { class: "clickable", onclick: open },
    el("td", { class: "num" }, el("a", { href: `#/transactions/${t.id}`, text: String(t.id) })),
    el("td", { text: `${t.charge_point_id} / ${t.connector_id}` }),
    el("td", { class: "num", text: t.user_id ?? "–" }),
    el("td", { text: when(t.start_timestamp) }),
    el("td", { text: duration(t.duration_seconds) }),
    el("td", { class: "num", text: kwh(t.energy_wh) }),
    el("td", {}, ...stateBadges(t)),
  );
}

/** Charging or done, and what staff should know: a refused start, a stale or csms-closed record, a meter gone backwards. */
function stateBadges(t) {
  const open = t.stop_timestamp === null;
  const state = t.is_active ? badge("Charging") : open ? badge(`Refused (${t.id_tag_status})`, "Unknown") : badge("Done", "Available");
  const closedBy = { superseded: "Superseded", staff: "Closed by staff" }[t.closed_by];
  return [
    state,
    t.is_stale ? badge("Stale", "Reserved") : null,
    closedBy ? badge(closedBy, "Reserved") : null,
    t.meter_went_backwards ? badge("Meter went backwards", "Faulted") : null,
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
  return el("p", {}, el("button", { type: "button", class: "danger", text: "Close this session", onclick: close }), output);
}

export async function showOne({ id }) {
  shownId = Number(id);
  const transaction = await api.get(`/api/transactions/${shownId}`);
  $("#transaction-title").textContent = `Charging session ${transaction.id}`;
  fill($("#transaction-facts"), el("div", {}, ...stateBadges(transaction)), transactionFacts(transaction), closeButton(transaction));
  fill($("#transaction-charts"), el("h2", { text: "Energy and power" }), transactionCharts(transaction));
}
