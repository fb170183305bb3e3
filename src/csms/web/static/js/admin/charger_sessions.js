// A charger's sessions (its page's Sessions card): its latest transactions, paged, live; a remote start on a
// connector (1.6) or EVSE (2.x) for an idTag, and a remote stop of a running one, asked first.

import { t } from "../i18n.js";
import { $, badge, confirmAction, debounce, el, fillRows, isShown, kwh, money, onSubmit, pager, say, when } from "../ui.js";

const LIMIT = 10;
let api;
let current = null;
let offset = 0;
let layoutOf = () => "1.6";

// A 2.x station's RequestStartTransaction needs an id of its own for the request, unique enough for one operator.
const remoteStartId = () => Math.floor(Date.now() / 1000) % 2_000_000_000;

// Start and stop, as each version spells them: 1.6 stops csms's transaction id, 2.x the station's own.
const REMOTE = {
  "1.6": {
    start: ({ connector, idTag }) => ["RemoteStartTransaction", { connectorId: connector, idTag }],
    stop: (tx) => ["RemoteStopTransaction", { transactionId: tx.id }],
  },
  "2.0.1": {
    start: ({ connector, idTag }) => ["RequestStartTransaction", {
      evseId: connector, remoteStartId: remoteStartId(), idToken: { idToken: idTag, type: "Central" },
    }],
    stop: (tx) => ["RequestStopTransaction", { transactionId: tx.transaction_key }],
  },
};

const chargerPath = (suffix) => `/api/admin/chargers/${encodeURIComponent(current)}${suffix}`;

/** `layout()`: the charger page's OCPP layout ("1.6" or "2.0.1"), which says how a start and a stop are spelled. */
export function init(context, { layout }) {
  api = context.api;
  layoutOf = layout;
  const reload = debounce(() => isShown("charger") && current && load().catch(showError), 500);
  context.hub.on("open", reload);
  for (const kind of ["transaction_started", "transaction_stopped", "meter_values"]) {
    context.hub.on(kind, (event) => event.charge_point_id === current && reload());
  }
  onSubmit($("#remote-start"), $("#charger-sessions-message"), ({ connector, id_tag: idTag }) =>
    remoteStart({ connector: Number(connector), idTag: idTag.trim() }));
}

/** Show the card for the charger `chargePointId` (its page calls this). */
export async function show(chargePointId) {
  if (chargePointId !== current) offset = 0;
  current = chargePointId;
  say($("#charger-sessions-message"), "");
  await load();
}

async function load() {
  const query = new URLSearchParams({ charge_point_id: current, limit: LIMIT, offset });
  const { items, total } = await api.page(`/api/admin/transactions?${query}`);
  const rows = items.map(sessionRow);
  fillRows($("#charger-sessions tbody"), rows, t("admin.charger_tools.no_sessions"));
  pager($("#charger-sessions-pager"), { offset, limit: LIMIT, total, go: (next) => { offset = next; load().catch(showError); } });
}

function sessionRow(tx) {
  const who = [tx.id_tag, tx.user_id ? t("admin.charger_tools.user_n", { id: tx.user_id }) : null].filter(Boolean).join(" · ");
  return el("tr", { "data-transaction": tx.id },
    el("td", { class: "num" }, el("a", { href: `#/transactions/${tx.id}`, text: String(tx.id) })),
    el("td", { class: "num", text: String(tx.evse_id ?? tx.connector_id) }),
    el("td", { text: when(tx.start_timestamp) }),
    el("td", { text: when(tx.stop_timestamp) }),
    el("td", { class: "num", text: kwh(tx.energy_wh) }),
    el("td", { class: "num", text: money(tx.cost, tx.currency) }),
    el("td", { class: "mono", text: who }),
    el("td", {}, tx.is_active ? stopButton(tx) : badge(stateText(tx), tx.stop_timestamp ? "Available" : "Unknown")));
}

const stateText = (tx) => (tx.stop_timestamp ? t("admin.charger_tools.ended") : t("admin.charger_tools.open_not_charging"));

function stopButton(tx) {
  return el("button", {
    type: "button", class: "danger", text: t("admin.charger_tools.stop"),
    "aria-label": t("admin.charger_tools.stop_named", { id: tx.id }), onclick: () => remoteStop(tx).catch(showError),
  });
}

async function remoteStart(fields) {
  const [action, payload] = REMOTE[layoutOf()].start(fields);
  say($("#charger-sessions-message"), t("admin.charger.sending", { action }));
  const answer = await api.post(chargerPath(`/ocpp/${action}`), payload);
  say($("#charger-sessions-message"), t("admin.charger_tools.answered", { action, status: answer.status }),
    { error: answer.status !== "Accepted" });
}

async function remoteStop(tx) {
  const confirmed = await confirmAction({
    title: t("admin.charger_tools.stop_title", { id: tx.id }),
    text: t("admin.charger_tools.stop_text", { connector: tx.evse_id ?? tx.connector_id, tag: tx.id_tag }),
    confirm: t("admin.charger_tools.stop_confirm"),
  });
  const [action, payload] = REMOTE[layoutOf()].stop(tx);
  if (!confirmed) {
    say($("#charger-sessions-message"), t("admin.charger.not_sent", { action }));
    return;
  }
  say($("#charger-sessions-message"), t("admin.charger.sending", { action }));
  const answer = await api.post(chargerPath(`/ocpp/${action}`), payload);
  say($("#charger-sessions-message"), t("admin.charger_tools.answered", { action, status: answer.status }),
    { error: answer.status !== "Accepted" });
}

function showError(error) {
  say($("#charger-sessions-message"), error.message, { error: true });
}
