// A charger's OCPP message log (its page's last card): newest first, filtered by action and direction, paged
// back by id as the API does (the log only grows, so there is no total), refreshed live on the newest page.

import { t } from "../i18n.js";
import { $, debounce, el, fill, fillRows, formData, isShown, say, when } from "../ui.js";

const LIMIT = 50;
let api;
let current = null;
let filters = {};
// The before_id of each page shown before this one: "Newer" goes back through them.
let newer = [];
let beforeId = null;

const path = () => `/api/admin/chargers/${encodeURIComponent(current)}/messages`;

export function init(context) {
  api = context.api;
  const reload = debounce(() => isShown("charger") && current && beforeId === null && load().catch(showError), 1000);
  for (const kind of ["connector_status", "meter_values", "transaction_started", "transaction_stopped", "charger_booted"]) {
    context.hub.on(kind, (event) => event.charge_point_id === current && reload());
  }
  $("#message-log-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    filters = formData(event.target);
    firstPage().catch(showError);
  });
  $("#refresh-log").addEventListener("click", () => firstPage().catch(showError));
  $("#log-newer").addEventListener("click", () => { beforeId = newer.pop() ?? null; load().catch(showError); });
  $("#log-older").addEventListener("click", (event) => {
    newer.push(beforeId);
    beforeId = Number(event.target.dataset.beforeId);
    load().catch(showError);
  });
}

/** Show the log of the charger `chargePointId` (its page calls this): the newest page, unfiltered. */
export async function show(chargePointId) {
  current = chargePointId;
  filters = {};
  $("#message-log-filters").reset();
  fill($("#log-actions"));
  await firstPage();
}

function firstPage() {
  newer = [];
  beforeId = null;
  return load();
}

async function load() {
  const query = new URLSearchParams({ limit: LIMIT });
  for (const [name, value] of Object.entries(filters)) if (value.trim()) query.set(name, value.trim());
  if (beforeId !== null) query.set("before_id", beforeId);
  const messages = await api.get(`${path()}?${query}`);
  const rows = messages.map(messageRow);
  fillRows($("#message-log tbody"), rows, t("admin.charger_tools.no_messages"));
  say($("#log-message"), "");
  rememberActions(messages);
  $("#log-newer").disabled = beforeId === null;
  const older = $("#log-older");
  older.disabled = messages.length < LIMIT;
  older.dataset.beforeId = messages.length ? messages[messages.length - 1].id : "";
}

function messageRow(message) {
  return el("tr", { "data-direction": message.direction },
    el("td", { text: when(message.created_at) }),
    el("td", { text: message.direction === "in" ? t("admin.charger.incoming") : t("admin.charger.outgoing") }),
    el("td", { text: message.action || t("admin.charger.message_type", { type: message.message_type }) }),
    el("td", { class: "frame", text: message.frame }));
}

// The actions seen so far are offered as the filter's suggestions.
function rememberActions(messages) {
  const list = $("#log-actions");
  const known = new Set([...list.options].map((option) => option.value));
  for (const { action } of messages) {
    if (action && !known.has(action)) {
      known.add(action);
      list.append(el("option", { value: action }));
    }
  }
}

function showError(error) {
  say($("#log-message"), error.message, { error: true });
}
