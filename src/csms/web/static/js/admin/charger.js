// One charger: identity, live connectors (a 2.x station's EVSEs), commands over OCPP in the charger's version,
// configuration keys (a 2.x station's device model), diagnostics (diagnostics.js), sessions with remote start and
// stop (charger_sessions.js), charging profiles and the password (charger_tools.js), certificates, QR stickers,
// message log (charger_log.js). Firmware goes through the Firmware page (firmware.js).

import { t, translate } from "../i18n.js";
import { $, $$, confirmAction, debounce, el, fill, fillRows, isShown, onSubmit, say, when } from "../ui.js";
import { applyConnectorStatus, connectionBadge, connectorBadge } from "./chargers.js";
import * as sessions from "./charger_sessions.js";
import * as messageLog from "./charger_log.js";
import * as tools from "./charger_tools.js";
import { show as showDiagnostics } from "./diagnostics.js";

// A request id for the 2.0.1 call that needs one (GetBaseReport): seconds since 2020, unique enough for one operator's clicks.
const requestId = () => Math.floor(Date.now() / 1000) - 1_577_836_800;

// The payload of each command form, per OCPP version, as that version spells it (camelCase).
const PAYLOADS = {
  "1.6": {
    Reset: (f) => ({ type: f.type }),
    UnlockConnector: (f) => ({ connectorId: Number(f.connectorId) }),
    ChangeAvailability: (f) => ({ connectorId: Number(f.connectorId), type: f.type }),
    TriggerMessage: (f) => ({ requestedMessage: f.requestedMessage, ...(f.connectorId ? { connectorId: Number(f.connectorId) } : {}) }),
  },
  "2.0.1": {
    Reset: (f) => ({ type: f.type }),
    UnlockConnector: (f) => ({ evseId: Number(f.evseId), connectorId: Number(f.connectorId) }),
    ChangeAvailability: (f) => ({
      operationalStatus: f.operationalStatus, ...(Number(f.evseId) > 0 ? { evse: { id: Number(f.evseId) } } : {}),
    }),
    TriggerMessage: (f) => ({ requestedMessage: f.requestedMessage, ...(f.evseId ? { evse: { id: Number(f.evseId) } } : {}) }),
  },
};

// Commands that interrupt charging ask first, saying what they will do (null: this one goes at once).
const QUESTIONS = {
  Reset: (f) => ({
    title: t("admin.charger.confirm.reset_title", { id: current, type: f.type }),
    text: t("admin.charger.confirm.reset_text"),
    confirm: t("admin.charger.confirm.reset"),
  }),
  UnlockConnector: (f) => ({
    title: t("admin.charger.confirm.unlock_title", { id: current, connector: f.connectorId }),
    text: t("admin.charger.confirm.unlock_text"),
    confirm: t("admin.charger.confirm.unlock"),
  }),
  ChangeAvailability: (f) => ((f.type ?? f.operationalStatus) !== "Inoperative" ? null : {
    title: t("admin.charger.confirm.inoperative_title", { id: current }),
    text: t("admin.charger.confirm.inoperative_text"),
    confirm: t("admin.charger.confirm.inoperative"),
  }),
};

// The layout of a charger's page: 2.0.1 for a station that booted with 2.0.1 or 2.1 (EVSEs, the device model), 1.6
// otherwise (also before a first boot).
const layoutOf = (charger) => (["2.0.1", "2.1"].includes(charger.ocpp_version) ? "2.0.1" : "1.6");

let api;
let current = null;
let qrUrls = [];
let connectorNumbers = [];
let layout = null;
let reloadFactsSoon = () => {};

function connectorRow(chargePointId, connector) {
  return el("tr", {},
    el("td", { text: connector.connector_id === 0 ? t("admin.charger.whole_charger") : String(connector.connector_id) }),
    el("td", {}, connectorBadge(chargePointId, connector.connector_id, connector.status)),
    el("td", { text: connector.error_code }),
    el("td", { text: when(connector.status_at || connector.at) }));
}

function evseRow(chargePointId, connector) {
  return el("tr", {},
    el("td", { text: String(connector.evse_id ?? connector.connector_id) }),
    el("td", { text: connector.evse_connector_id ? String(connector.evse_connector_id) : "–" }),
    el("td", {}, connectorBadge(chargePointId, connector.connector_id, connector.status)),
    el("td", { text: connector.availability || "–" }),
    el("td", { text: when(connector.status_at || connector.at) }));
}

function addRow(body, event) {
  // A live event names a 2.x station's EVSE but not the connector on it: the page reads the EVSE back.
  if (layout === "2.0.1") reloadFactsSoon();
  else body.append(connectorRow(event.charge_point_id, event));
}

// The table of connectors (1.6) or EVSEs (2.x) the page shows.
const connectorTable = () => $(layout === "2.0.1" ? "#charger-evses" : "#charger-connectors");

const path = (suffix = "") => `/api/admin/chargers/${encodeURIComponent(current)}${suffix}`;
const mine = (event) => isShown("charger") && event.charge_point_id === current;

export function init(context) {
  api = context.api;
  const reloadFacts = debounce(() => isShown("charger") && loadFacts(), 300);
  reloadFactsSoon = reloadFacts;
  context.hub.on("open", reloadFacts);
  context.hub.on("connector_status", (event) => mine(event) && applyConnectorStatus(connectorTable(), event, addRow));
  for (const kind of ["charger_connected", "charger_disconnected", "charger_booted", "firmware_status", "diagnostics_status"]) {
    context.hub.on(kind, (event) => mine(event) && reloadFacts());
  }
  const reloadVariables = debounce(() => isShown("charger") && layout === "2.0.1" && loadVariables({ keepMessage: true, keepEdit: true }), 300);
  context.hub.on("device_model_updated", (event) => mine(event) && reloadVariables());
  $("#read-configuration").addEventListener("click", () => loadConfiguration().catch(showError));
  $("#request-report").addEventListener("click", () => requestReport().catch(showVariablesError));
  $("#refresh-variables").addEventListener("click", () => loadVariables().catch(showVariablesError));
  $("#variables-filter").addEventListener("input", debounce(showVariables, 150));
  sessions.init(context, { layout: () => layout });
  messageLog.init(context);
  tools.init(context);
  $("#open-stickers").addEventListener("click", () => openStickers().catch(showError));
}

export async function show({ id }) {
  current = id;
  $("#charger-title").textContent = t("admin.charger.title_id", { id });
  say($("#command-result"), "");
  say($("#variables-message"), "");
  $("#configuration").hidden = true;
  layout = null;
  await loadFacts();
  await Promise.all([loadStickers(), loadCertificates(), showDiagnostics(id), sessions.show(id), tools.show(id), messageLog.show(id)]);
}

function showError(error) {
  say($("#command-result"), error.message, { error: true });
}

function showVariablesError(error) {
  say($("#variables-message"), error.message, { error: true });
}

/**
 * Show the cards and command forms of the charger's OCPP version; they are rebuilt only when it changes
 * (on opening the page, or when a charger boots with another version): true then.
 */
function applyLayout(version) {
  if (version === layout) return false;
  layout = version;
  $$("#main [data-ocpp]").forEach((node) => { node.hidden = node.dataset.ocpp !== version; });
  fill($("#charger-connectors tbody"));
  fill($("#charger-evses tbody"));
  fill($("#variables tbody"));
  variables = [];
  $("#variables-filter").value = "";
  const forms = $(`#commands-${CSS.escape(version)}`).content.cloneNode(true);
  translate(forms);
  fill($("#commands"), ...forms.children);
  $$("#commands form").forEach((form) => bindCommand(form, version));
  return true;
}

async function loadFacts() {
  const charger = await api.get(path());
  const facts = [
    [t("admin.charger.fact.connection"), connectionBadge(charger.charge_point_id, charger.is_connected)],
    [t("admin.charger.fact.ocpp_version"), charger.ocpp_version],
    [t("admin.charger.fact.vendor"), charger.vendor], [t("admin.charger.fact.model"), charger.model],
    [t("admin.charger.fact.serial"), charger.serial_number],
    [t("admin.charger.fact.registered_serial"), charger.registered_serial_number],
    [t("admin.charger.fact.charge_box_serial"), charger.charge_box_serial_number], [t("admin.charger.fact.firmware"), charger.firmware_version],
    [t("admin.charger.fact.firmware_status"), charger.firmware_status], [t("admin.charger.fact.diagnostics_status"), charger.diagnostics_status],
    [t("admin.charger.fact.meter"), [charger.meter_type, charger.meter_serial_number].filter(Boolean).join(" ")],
    [t("admin.charger.fact.registration"), charger.registration_status], [t("admin.charger.fact.last_boot"), when(charger.last_boot_at)],
    [t("admin.charger.fact.last_heartbeat"), when(charger.last_heartbeat_at)],
    [t("admin.charger.fact.security_profile"), charger.security_profile ? String(charger.security_profile) : null],
    [t("admin.charger.fact.site"), charger.site_id ? el("a", { href: `#/sites/${charger.site_id}`, text: charger.site_name }) : null],
  ];
  fill($("#charger-facts"), ...facts.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value || "–")]));
  const changed = applyLayout(layoutOf(charger));
  const body = $("tbody", connectorTable());
  body.dataset.connectors = charger.charge_point_id;
  const row = layout === "2.0.1" ? evseRow : connectorRow;
  fill(body, ...charger.connectors.map((c) => row(charger.charge_point_id, c)));
  connectorNumbers = charger.connectors.map((c) => c.connector_id).filter((n) => n > 0);
  if (changed && layout === "2.0.1") await loadVariables();
}

function bindCommand(form, version) {
  const action = form.dataset.action;
  onSubmit(form, $("#command-result"), async (fields) => {
    const question = QUESTIONS[action]?.(fields);
    if (question && !(await confirmAction(question))) {
      say($("#command-result"), t("admin.charger.not_sent", { action }));
      return;
    }
    say($("#command-result"), t("admin.charger.sending", { action }));
    const answer = await api.post(path(`/ocpp/${action}`), PAYLOADS[version][action](fields));
    say($("#command-result"), `${action}: ${answer.status || JSON.stringify(answer)}`);
  });
}

async function loadConfiguration() {
  const answer = await api.post(path("/ocpp/GetConfiguration"), {});
  const keys = answer.configurationKey || [];
  fill($("#configuration tbody"), ...keys.map((key) => el("tr", {},
    el("td", { class: "mono", text: key.key }),
    el("td", { class: "mono", text: key.value ?? "" }),
    el("td", { text: key.readonly ? t("admin.charger.yes") : t("admin.charger.no") }))));
  $("#configuration").hidden = false;
}

// "Connector (EVSE 1, connector 2)", "EVSE (EVSE 1)", "OCPPCommCtrlr": a component, its instance and its place.
function componentName(variable) {
  const name = variable.component_instance ? `${variable.component_name} ${variable.component_instance}` : variable.component_name;
  if (!variable.evse_id) return name;
  const place = variable.evse_connector_id
    ? t("admin.charger.evse_connector", { evse: variable.evse_id, connector: variable.evse_connector_id })
    : t("admin.charger.evse", { evse: variable.evse_id });
  return `${name} (${place})`;
}

// The variables as last read, and the filter typed over them.
let variables = [];

// "integer, s, 1 to 86400", "OptionList: LRU, LFU": what a variable takes, as its report gave it.
function typeOf(variable) {
  const c = variable.characteristics;
  if (!c) return variable.data_type || "–";
  const limits = c.min_limit !== null || c.max_limit !== null ? t("admin.charger.limits", { min: c.min_limit ?? "…", max: c.max_limit ?? "…" }) : null;
  const head = [c.data_type, c.unit, limits].filter(Boolean).join(", ");
  return c.values_list ? `${head}: ${c.values_list.split(",").join(", ")}` : head;
}

const isEditable = (variable) => ["ReadWrite", "WriteOnly"].includes(variable.mutability);
const variableName = (variable) => [variable.variable_name, variable.variable_instance].filter(Boolean).join(" ");
const describeVariable = (variable) => `${componentName(variable)} ${variableName(variable)}`
  + (variable.attribute_type === "Actual" ? "" : ` (${variable.attribute_type})`);

function variableRow(variable) {
  const value = el("td", { class: "mono", text: variable.value ?? "" });
  const action = el("td", {}, isEditable(variable) ? el("button", {
    type: "button", class: "secondary", text: t("admin.charger.edit"), "aria-label": t("admin.charger.edit_named", { name: describeVariable(variable) }),
    onclick: () => editVariable(variable, value, action),
  }) : null);
  return el("tr", { "data-variable": describeVariable(variable) },
    el("td", { class: "mono", text: componentName(variable) }),
    el("td", { class: "mono", text: variableName(variable) }),
    el("td", { text: variable.attribute_type }),
    value,
    el("td", { text: variable.mutability || "–" }),
    el("td", { text: typeOf(variable) }),
    el("td", { text: when(variable.updated_at) }),
    action);
}

// An input fit for the variable: a list to choose from for a boolean or an OptionList, text otherwise.
function valueInput(variable) {
  const c = variable.characteristics || {};
  const label = t("admin.charger.new_value", { name: describeVariable(variable) });
  const choices = c.data_type === "boolean" ? ["true", "false"]
    : c.data_type === "OptionList" && c.values_list ? c.values_list.split(",") : null;
  if (choices) {
    const select = el("select", { name: "value", "aria-label": label }, ...choices.map((choice) => el("option", { value: choice, text: choice })));
    select.value = variable.value ?? choices[0];
    return select;
  }
  const numeric = ["integer", "decimal"].includes(c.data_type);
  return el("input", {
    name: "value", "aria-label": label, value: variable.mutability === "WriteOnly" ? "" : (variable.value ?? ""),
    inputmode: numeric ? "decimal" : undefined, autocomplete: "off", required: true,
  });
}

function editVariable(variable, valueCell, actionCell) {
  const input = valueInput(variable);
  const form = el("form", { class: "inline" }, input,
    el("button", { type: "submit", text: t("admin.charger.save") }),
    el("button", { type: "button", class: "secondary", text: t("admin.charger.cancel"), onclick: () => showVariables() }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveVariable(variable, input.value).catch(showVariablesError);
  });
  fill(valueCell, form);
  fill(actionCell);
  input.focus();
}

async function saveVariable(variable, value) {
  const name = describeVariable(variable);
  say($("#variables-message"), t("admin.charger.sending", { action: `SetVariables ${name}` }));
  const setting = {
    component_name: variable.component_name, variable_name: variable.variable_name, attribute_type: variable.attribute_type, value,
    ...(variable.component_instance ? { component_instance: variable.component_instance } : {}),
    ...(variable.variable_instance ? { variable_instance: variable.variable_instance } : {}),
    ...(variable.evse_id ? { evse_id: variable.evse_id } : {}),
    ...(variable.evse_id && variable.evse_connector_id ? { evse_connector_id: variable.evse_connector_id } : {}),
  };
  const [result] = await api.put(path("/variables"), { variables: [setting] });
  const why = [result.reason_code, result.additional_info].filter(Boolean).join(": ");
  say($("#variables-message"), `SetVariables ${name}: ${result.status}${why ? ` (${why})` : ""}.`,
    { error: !["Accepted", "RebootRequired"].includes(result.status) });
  await loadVariables({ keepMessage: true });
}

function matches(variable, words) {
  const text = `${componentName(variable)} ${variableName(variable)} ${variable.value ?? ""}`.toLowerCase();
  return words.every((word) => text.includes(word));
}

// The rows under a heading per component (with its instance and place), those the filter lets through.
function showVariables() {
  const words = $("#variables-filter").value.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = variables.filter((variable) => matches(variable, words));
  const rows = [];
  let group = null;
  for (const variable of shown) {
    if (componentName(variable) !== group) {
      group = componentName(variable);
      rows.push(el("tr", { class: "group" }, el("th", { colspan: 8, scope: "colgroup", text: group })));
    }
    rows.push(variableRow(variable));
  }
  const empty = variables.length ? t("admin.charger.no_variable_matches") : t("admin.charger.no_variables");
  fillRows($("#variables tbody"), rows, empty);
}

// A report arriving while the operator types a value does not throw the input away (`keepEdit`).
async function loadVariables({ keepMessage = false, keepEdit = false } = {}) {
  variables = await api.get(path("/variables"));
  if (!keepMessage) say($("#variables-message"), "");
  if (!(keepEdit && $("#variables form"))) showVariables();
}

async function requestReport() {
  say($("#variables-message"), t("admin.charger.sending", { action: "GetBaseReport" }));
  const answer = await api.post(path("/ocpp/GetBaseReport"), { requestId: requestId(), reportBase: "FullInventory" });
  const next = answer.status === "Accepted" ? ` ${t("admin.charger.report_coming")}` : "";
  say($("#variables-message"), `GetBaseReport: ${answer.status || JSON.stringify(answer)}.${next}`);
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
      type: "button", class: "danger", text: t("admin.charger.revoke"),
      "aria-label": t("admin.charger.revoke_named", { serial: certificate.serial_number }), onclick: () => revoke(certificate),
    }) : null))));
}

async function revoke(certificate) {
  try {
    await api.post(path(`/certificates/${certificate.id}/revoke`), {});
    say($("#certificates-message"), t("admin.charger.revoked_done", { serial: certificate.serial_number }));
    await loadCertificates();
  } catch (error) {
    say($("#certificates-message"), error.message, { error: true });
  }
}

async function loadStickers() {
  qrUrls.forEach((url) => URL.revokeObjectURL(url));
  qrUrls = [];
  const numbers = connectorNumbers.length ? connectorNumbers : [1];
  const figures = await Promise.all(numbers.map(async (n) => {
    const url = URL.createObjectURL(await api.blob(path(`/connectors/${n}/qr.svg`)));
    qrUrls.push(url);
    const [alt, caption] = layout === "2.0.1"
      ? [t("admin.charger.qr_evse", { id: current, n }), t("admin.charger.evse", { evse: n })]
      : [t("admin.charger.qr_connector", { id: current, n }), t("admin.charger.connector_n", { n })];
    return el("figure", {}, el("img", { src: url, alt }), el("figcaption", { text: caption }));
  }));
  fill($("#qr-list"), ...figures);
}

async function openStickers() {
  const sheet = await api.blob(path("/stickers"));
  window.open(URL.createObjectURL(new Blob([sheet], { type: "text/html" })), "_blank", "noopener");
}
