// One charger: identity, live connectors, commands over OCPP, configuration keys, certificates, QR stickers,
// message log.

import { $, $$, debounce, el, fill, isShown, onSubmit, say, when } from "../ui.js";
import { applyConnectorStatus, connectionBadge, connectorBadge } from "./chargers.js";

// The payload of each command form, as OCPP 1.6 spells it (camelCase).
const PAYLOADS = {
  Reset: (f) => ({ type: f.type }),
  UnlockConnector: (f) => ({ connectorId: Number(f.connectorId) }),
  ChangeAvailability: (f) => ({ connectorId: Number(f.connectorId), type: f.type }),
  TriggerMessage: (f) => ({ requestedMessage: f.requestedMessage, ...(f.connectorId ? { connectorId: Number(f.connectorId) } : {}) }),
  UpdateFirmware: (f) => ({ location: f.location, retrieveDate: new Date().toISOString() }),
  GetDiagnostics: (f) => ({ location: f.location }),
};

let api;
let current = null;
let qrUrls = [];
let connectorNumbers = [];

function connectorRow(chargePointId, connector) {
  return el("tr", {},
    el("td", { text: connector.connector_id === 0 ? "0 (charger)" : String(connector.connector_id) }),
    el("td", {}, connectorBadge(chargePointId, connector.connector_id, connector.status)),
    el("td", { text: connector.error_code }),
    el("td", { text: when(connector.status_at || connector.at) }));
}

function addRow(body, event) {
  body.append(connectorRow(event.charge_point_id, event));
}

const path = (suffix = "") => `/api/admin/chargers/${encodeURIComponent(current)}${suffix}`;
const mine = (event) => isShown("charger") && event.charge_point_id === current;

export function init(context) {
  api = context.api;
  const reloadFacts = debounce(() => isShown("charger") && loadFacts(), 300);
  const reloadLog = debounce(() => isShown("charger") && loadLog(), 1000);
  context.hub.on("open", reloadFacts);
  context.hub.on("connector_status", (event) => mine(event) && applyConnectorStatus($("#charger-connectors"), event, addRow));
  for (const kind of ["charger_connected", "charger_disconnected", "charger_booted", "firmware_status", "diagnostics_status"]) {
    context.hub.on(kind, (event) => mine(event) && reloadFacts());
  }
  for (const kind of ["connector_status", "meter_values", "transaction_started", "transaction_stopped", "charger_booted"]) {
    context.hub.on(kind, (event) => mine(event) && reloadLog());
  }
  $$("#commands form").forEach(bindCommand);
  $("#read-configuration").addEventListener("click", () => loadConfiguration().catch(showError));
  $("#refresh-log").addEventListener("click", () => loadLog().catch(showError));
  $("#open-stickers").addEventListener("click", () => openStickers().catch(showError));
}

export async function show({ id }) {
  current = id;
  $("#charger-title").textContent = `Charger ${id}`;
  say($("#command-result"), "");
  $("#configuration").hidden = true;
  await loadFacts();
  await Promise.all([loadLog(), loadStickers(), loadCertificates()]);
}

function showError(error) {
  say($("#command-result"), error.message, { error: true });
}

async function loadFacts() {
  const charger = await api.get(path());
  const facts = [
    ["Connection", connectionBadge(charger.charge_point_id, charger.is_connected)],
    ["Vendor", charger.vendor], ["Model", charger.model], ["Serial number (booted)", charger.serial_number],
    ["Registered serial", charger.registered_serial_number],
    ["Charge box serial", charger.charge_box_serial_number], ["Firmware", charger.firmware_version],
    ["Firmware status", charger.firmware_status], ["Diagnostics status", charger.diagnostics_status],
    ["Meter", [charger.meter_type, charger.meter_serial_number].filter(Boolean).join(" ")],
    ["Registration", charger.registration_status], ["Last boot", when(charger.last_boot_at)],
    ["Last heartbeat", when(charger.last_heartbeat_at)],
    ["Security profile", charger.security_profile ? String(charger.security_profile) : null],
  ];
  fill($("#charger-facts"), ...facts.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value || "–")]));
  const body = $("#charger-connectors tbody");
  body.dataset.connectors = charger.charge_point_id;
  fill(body, ...charger.connectors.map((c) => connectorRow(charger.charge_point_id, c)));
  connectorNumbers = charger.connectors.map((c) => c.connector_id).filter((n) => n > 0);
}

function bindCommand(form) {
  const action = form.dataset.action;
  onSubmit(form, $("#command-result"), async (fields) => {
    say($("#command-result"), `${action}: sending…`);
    const answer = await api.post(path(`/ocpp/${action}`), PAYLOADS[action](fields));
    say($("#command-result"), `${action}: ${answer.status || JSON.stringify(answer)}`);
  });
}

async function loadConfiguration() {
  const answer = await api.post(path("/ocpp/GetConfiguration"), {});
  const keys = answer.configurationKey || [];
  fill($("#configuration tbody"), ...keys.map((key) => el("tr", {},
    el("td", { class: "mono", text: key.key }),
    el("td", { class: "mono", text: key.value ?? "" }),
    el("td", { text: key.readonly ? "yes" : "no" }))));
  $("#configuration").hidden = false;
}

// Only what csms signed can be revoked; a revocation that lies ahead (a renewal's grace) can be brought forward.
const isRevocable = (certificate) => certificate.certificate_type === "ChargePointCertificate"
  && (!certificate.revoked_at || new Date(certificate.revoked_at) > new Date());

async function loadCertificates() {
  const certificates = await api.get(path("/certificates"));
  fill($("#certificates tbody"), ...certificates.map((certificate) => el("tr", { "data-serial": certificate.serial_number },
    el("td", { text: certificate.certificate_type }),
    el("td", { class: "mono", text: certificate.serial_number }),
    el("td", { text: certificate.status }),
    el("td", { text: when(certificate.not_after) }),
    el("td", { text: certificate.revoked_at ? `${when(certificate.revoked_at)} (${certificate.revocation_reason})` : "–" }),
    el("td", {}, isRevocable(certificate) ? el("button", {
      type: "button", class: "danger", text: "Revoke",
      "aria-label": `Revoke certificate ${certificate.serial_number}`, onclick: () => revoke(certificate),
    }) : null))));
}

async function revoke(certificate) {
  try {
    await api.post(path(`/certificates/${certificate.id}/revoke`), {});
    say($("#certificates-message"), `Certificate ${certificate.serial_number} revoked.`);
    await loadCertificates();
  } catch (error) {
    say($("#certificates-message"), error.message, { error: true });
  }
}

async function loadLog() {
  const messages = await api.get(path("/messages?limit=50"));
  fill($("#message-log tbody"), ...messages.map((message) => el("tr", {},
    el("td", { text: when(message.created_at) }),
    el("td", { text: message.direction === "in" ? "charger → csms" : "csms → charger" }),
    el("td", { text: message.action || `(type ${message.message_type})` }),
    el("td", { class: "frame", text: message.frame }))));
}

async function loadStickers() {
  qrUrls.forEach((url) => URL.revokeObjectURL(url));
  qrUrls = [];
  const numbers = connectorNumbers.length ? connectorNumbers : [1];
  const figures = await Promise.all(numbers.map(async (n) => {
    const url = URL.createObjectURL(await api.blob(path(`/connectors/${n}/qr.svg`)));
    qrUrls.push(url);
    return el("figure", {}, el("img", { src: url, alt: `QR code of ${current} connector ${n}` }), el("figcaption", { text: `Connector ${n}` }));
  }));
  fill($("#qr-list"), ...figures);
}

async function openStickers() {
  const sheet = await api.blob(path("/stickers"));
  window.open(URL.createObjectURL(new Blob([sheet], { type: "text/html" })), "_blank", "noopener");
}
