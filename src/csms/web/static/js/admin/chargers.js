// Chargers: the list with live connector status and each charger's OCPP version, searched and filtered by state
// (the overview's counts link here), a page at a time; each charger's faults; registering a new charger.

import { t } from "../i18n.js";
import { $, badge, debounce, el, fillRows, isShown, onSubmit, pager, say, statusText, when } from "../ui.js";

const LIMIT = 25;
const FILTERS = ["q", "state", "sort"];
let api;
let reload;
let shownQuery = new URLSearchParams();
let reads = 0;

export function init(context) {
  api = context.api;
  reload = debounce(() => isShown("chargers") && show(), 300);
  context.hub.on("open", reload);
  context.hub.on("charger_booted", reload);
  context.hub.on("connector_status", (event) => {
    const list = $("#chargers-table");
    // Filtered by state, a status change may move a charger into the list or out of it; a fault, or the end of
    // one, changes its problems.
    const changes = shownQuery.has("state") || hadOrHasProblem(event);
    if ((!applyConnectorStatus(list, event, addChip) || changes) && isShown("chargers")) reload();
  });
  onSubmit($("#charger-search"), $("#register-charger-message"), async (fields) => {
    const query = new URLSearchParams(Object.entries(fields).filter(([, value]) => value.trim() !== ""));
    location.hash = `#/chargers?${query}`;  // the filters stay in the address: a reload or a link keeps them
  });
  context.hub.on("charger_connected", (event) => applyConnection(event.charge_point_id, true));
  context.hub.on("charger_disconnected", (event) => applyConnection(event.charge_point_id, false));
  onSubmit($("#register-charger"), $("#register-charger-message"), async (fields) => {
    await api.post("/api/admin/chargers", fields);
    $("#register-charger").reset();
    say($("#register-charger-message"), t("admin.chargers.registered", { id: fields.charge_point_id }));
    await show();
  });
}

/** The list the address asks for (the router passes its query); a live reload (none) reads the same list again
 * and leaves the search form alone, which the operator may be filling in. */
export async function show({ query } = {}) {
  if (query) {
    shownQuery = query;
    const form = $("#charger-search");
    for (const name of FILTERS) form.elements[name].value = query.get(name) ?? (name === "sort" ? "charge_point_id" : "");
  }
  const offset = Number(shownQuery.get("offset") || 0);
  const params = new URLSearchParams({ limit: LIMIT, offset });
  for (const name of FILTERS) if (shownQuery.get(name)) params.set(name, shownQuery.get(name));
  const asked = ++reads;
  const { items, total } = await api.page(`/api/admin/chargers?${params}`);
  if (asked !== reads) return;  // a later read (a search, a live reload) is under way: its list is the one to show
  const filtered = FILTERS.some((name) => shownQuery.get(name));
  const empty = filtered ? t("common.nothing_found") : t("admin.chargers.none");
  fillRows($("#chargers-table tbody"), items.map(chargerRow), empty);
  pager($("#chargers-pager"), { offset, limit: LIMIT, total, go: (next) => goToOffset(next) });
}

function goToOffset(offset) {
  const query = new URLSearchParams(shownQuery);
  query.set("offset", offset);
  location.hash = `#/chargers?${query}`;
}

function chargerRow(charger) {
  const id = charger.charge_point_id;
  const connectors = charger.connectors.filter((connector) => connector.connector_id > 0);
  return el(
    "tr",
    {},
    el("td", {}, el("a", { href: `#/chargers/${encodeURIComponent(id)}`, text: id })),
    el("td", {}, connectionBadge(id, charger.is_connected)),
    el("td", { "data-ocpp-version": id, text: charger.ocpp_version || "–" }),
    el("td", {}, el("span", { class: "connectors", "data-connectors": id }, ...connectors.map((c) => connectorChip(id, c)))),
    el("td", { "data-problems": id }, ...problems(charger)),
    el("td", { text: [charger.vendor, charger.model].filter(Boolean).join(" ") || "–" }),
    el("td", { text: charger.firmware_version || "–" }),
    el("td", { text: when(charger.last_heartbeat_at) }),
  );
}

function hadOrHasProblem(event) {
  const cell = $(`[data-problems="${CSS.escape(event.charge_point_id)}"]`);
  const reported = event.status === "Faulted" || (event.error_code && event.error_code !== "NoError");
  return reported || (cell !== null && cell.textContent !== "–");
}

/** What the charger reported wrong, a line per connector: its error code, the vendor's code and info. */
function problems(charger) {
  const wrong = charger.connectors.filter((c) => c.status === "Faulted" || (c.error_code && c.error_code !== "NoError"));
  if (!wrong.length) return ["–"];
  return wrong.map((connector) => {
    const where = connector.connector_id === 0 ? t("admin.charger.whole_charger") : String(connector.connector_id);
    const details = [connector.error_code, connector.vendor_error_code, connector.info].filter((part) => part && part !== "NoError");
    return el("div", { text: `${where}: ${details.join(" · ") || statusText(connector.status)}` });
  });
}

function addChip(list, event) {
  list.append(connectorChip(event.charge_point_id, event));
}

function connectorChip(chargePointId, connector) {
  return el("span", {}, `${connector.connector_id} `, connectorBadge(chargePointId, connector.connector_id, connector.status));
}

export function connectorBadge(chargePointId, connectorId, status) {
  const node = badge(statusText(status), status);
  node.dataset.connector = `${chargePointId}/${connectorId}`;
  return node;
}

export function connectionBadge(chargePointId, isConnected) {
  const node = badge(isConnected ? t("common.online") : t("common.offline"), isConnected ? "online" : "offline");
  node.dataset.connection = chargePointId;
  return node;
}

/**
 * Show a connector_status event: update every badge of that connector, or add the connector to the
 * lists of its charger (`[data-connectors]`) with `addEntry`. False when the charger is not shown at all.
 */
export function applyConnectorStatus(root, event, addEntry) {
  const key = CSS.escape(`${event.charge_point_id}/${event.connector_id}`);
  const badges = [...root.querySelectorAll(`[data-connector="${key}"]`)];
  for (const node of badges) {
    node.textContent = statusText(event.status);
    node.className = `badge ${event.status}`;
  }
  if (badges.length || event.connector_id === 0) return true;
  const lists = [...root.querySelectorAll(`[data-connectors="${CSS.escape(event.charge_point_id)}"]`)];
  lists.forEach((list) => addEntry(list, event));
  return lists.length > 0;
}

function applyConnection(chargePointId, isConnected) {
  for (const node of document.querySelectorAll(`[data-connection="${CSS.escape(chargePointId)}"]`)) {
    node.replaceWith(connectionBadge(chargePointId, isConnected));
  }
}
