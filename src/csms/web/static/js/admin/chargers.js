// Chargers: the list with live connector status and each charger's OCPP version, and registering a new charger.

import { t } from "../i18n.js";
import { $, badge, debounce, el, fill, isShown, onSubmit, say, statusText, when } from "../ui.js";

let api;
let reload;

export function init(context) {
  api = context.api;
  reload = debounce(() => isShown("chargers") && show(), 300);
  context.hub.on("open", reload);
  context.hub.on("charger_booted", reload);
  context.hub.on("connector_status", (event) => {
    const list = $("#chargers-table");
    if (!applyConnectorStatus(list, event, addChip) && isShown("chargers")) reload();
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

export async function show() {
  const found = await api.get("/api/admin/chargers");
  const rows = found.map(chargerRow);
  fill($("#chargers-table tbody"), ...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7, text: t("admin.chargers.none") }))]));
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
    el("td", { text: [charger.vendor, charger.model].filter(Boolean).join(" ") || "–" }),
    el("td", { text: charger.firmware_version || "–" }),
    el("td", { text: when(charger.last_heartbeat_at) }),
  );
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
