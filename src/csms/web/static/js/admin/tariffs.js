// Tariffs: the prices defined, where and for whom each applies (its assignments), defining and assigning one,
// removing an assignment, and the check of which tariff a session would start with on a connector.

import { t } from "../i18n.js";
import { $, confirmAction, el, fill, fillRows, money, onSubmit, percent, say, when } from "../ui.js";

const PRICES = ["price_per_kwh", "price_per_charging_minute", "price_per_idle_minute", "session_fee"];

let api;
let tariffsById = new Map();
let lastCheck = null; // the place last checked, checked again whenever the view is read again

export function init(context) {
  api = context.api;
  const created = $("#create-tariff");
  onSubmit(created, $("#create-tariff-message"), (fields) => naming(created, async () => {
    const tariff = await api.post("/api/admin/tariffs", tariffBody(fields));
    created.reset();
    say($("#create-tariff-message"), t("admin.tariffs.created_message", { name: tariff.name, id: tariff.id }));
    await show();
    $("#assign-tariff").elements.tariff_id.value = String(tariff.id);
  }));
  const assigned = $("#assign-tariff");
  onSubmit(assigned, $("#assign-tariff-message"), (fields) => naming(assigned, async () => {
    const assignment = await api.post("/api/admin/tariff_assignments", assignmentBody(fields));
    say($("#assign-tariff-message"), t("admin.tariffs.assigned_message", { id: assignment.id, tariff: tariffName(assignment.tariff_id) }));
    await show();
  }));
  const check = $("#tariff-check");
  onSubmit(check, $("#tariff-check-message"), (fields) => naming(check, async () => {
    fill($("#tariff-check-result"));
    const place = placeOf(fields);
    await showCheck(place);
    lastCheck = place;
  }));
}

export async function show() {
  const [tariffs, assignments, chargers] = await Promise.all([
    api.get("/api/admin/tariffs"), api.get("/api/admin/tariff_assignments"), api.get("/api/admin/chargers"),
  ]);
  tariffsById = new Map(tariffs.map((tariff) => [tariff.id, tariff]));
  const newestFirst = [...tariffs].reverse();
  fillRows($("#tariffs-table tbody"), newestFirst.map(tariffRow), t("admin.tariffs.none"));
  fillRows($("#tariff-assignments-table tbody"), [...assignments].reverse().map(assignmentRow), t("admin.tariffs.no_assignments"));
  const select = $("#assign-tariff").elements.tariff_id;
  const chosen = select.value;
  fill(select, ...newestFirst.map((tariff) => el("option", { value: tariff.id, text: tariffName(tariff.id) })));
  if (tariffsById.has(Number(chosen))) select.value = chosen;
  fill($("#tariff-chargers"), ...chargers.map((charger) => el("option", { value: charger.charge_point_id })));
  if (lastCheck) await showCheck(lastCheck);
}

/** The form's fields as the API takes them: prices as typed (exact decimals), the tax from % to a fraction. */
function tariffBody(fields) {
  const body = { name: fields.name.trim(), currency: fields.currency.trim().toUpperCase() };
  for (const name of PRICES) if (fields[name] !== "") body[name] = fields[name];
  if (fields.tax_rate !== "") body.tax_rate = (Number(fields.tax_rate) / 100).toFixed(4);
  return body;
}

function assignmentBody(fields) {
  const text = (value) => value.trim() || null;
  const moment = (value) => (value ? new Date(value).toISOString() : null);  // the browser's local time
  return {
    tariff_id: Number(fields.tariff_id),
    charge_point_id: text(fields.charge_point_id),
    connector_id: fields.connector_id ? Number(fields.connector_id) : null,
    parent_id_tag: text(fields.parent_id_tag),
    valid_from: moment(fields.valid_from),
    valid_to: moment(fields.valid_to),
  };
}

function placeOf(fields) {
  const place = { charge_point_id: fields.charge_point_id.trim(), connector_id: fields.connector_id, id_tag: fields.id_tag.trim() };
  if (fields.at) place.at = new Date(fields.at).toISOString();
  return place;
}

/**
 * Run `action`; a 422's problems come back each with the label of the field it is about
 * ("Per kWh: Input should be greater than or equal to 0"), in the form's own words.
 */
async function naming(form, action) {
  try {
    await action();
  } catch (error) {
    if (error.problems?.length) error.message = error.problems.map((problem) => problemText(form, problem)).join("; ");
    throw error;
  }
}

function problemText(form, { loc = [], msg }) {
  const field = form.elements[loc.at(-1)];
  const label = field?.closest("label")?.querySelector("span")?.textContent;
  return label ? `${label}: ${msg}` : msg;
}

const tariffLabel = (tariff) => t("admin.tariffs.tariff_named", { name: tariff.name, id: tariff.id, currency: tariff.currency });
const tariffName = (id) => (tariffsById.has(id) ? tariffLabel(tariffsById.get(id)) : `#${id}`);

/** "€0.39 per kWh · €0.50 per session", net of tax; "free" when it charges nothing. */
export function pricesText(tariff) {
  const amount = (value) => money(value, tariff.currency, { unit: true });
  const parts = PRICES.filter((name) => Number(tariff[name]) > 0).map((name) => t(`admin.tariffs.unit.${name}`, { amount: amount(tariff[name]) }));
  return parts.length ? parts.join(" · ") : t("admin.tariffs.free");
}

const taxText = (tariff) => (Number(tariff.tax_rate) > 0 ? percent(Number(tariff.tax_rate)) : t("admin.tariffs.no_tax"));

function tariffRow(tariff) {
  return el(
    "tr",
    { "data-tariff": tariff.id },
    el("td", { class: "num", text: String(tariff.id) }),
    el("td", { text: tariff.name }),
    el("td", { class: "prices", text: pricesText(tariff) }),
    el("td", { text: taxText(tariff) }),
    el("td", { text: when(tariff.created_at) }),
  );
}

function whereText(assignment) {
  const { charge_point_id: charger, connector_id: connector } = assignment;
  if (connector) return t("common.connector_of", { charger, connector });
  return charger ? t("admin.tariffs.at_charger", { charger }) : t("admin.tariffs.everywhere");
}

const whoText = (assignment) =>
  (assignment.parent_id_tag ? t("admin.tariffs.for_group", { group: assignment.parent_id_tag }) : t("admin.tariffs.for_everyone"));

function validText({ valid_from: from, valid_to: to }) {
  if (from && to) return t("admin.tariffs.valid_between", { from: when(from), to: when(to) });
  if (from) return t("admin.tariffs.valid_since", { from: when(from) });
  return to ? t("admin.tariffs.valid_until", { to: when(to) }) : t("admin.tariffs.always");
}

function assignmentRow(assignment) {
  return el(
    "tr",
    { "data-assignment": assignment.id },
    el("td", { class: "num", text: String(assignment.id) }),
    el("td", { text: tariffName(assignment.tariff_id) }),
    el("td", { class: "where", text: whereText(assignment) }),
    el("td", { text: whoText(assignment) }),
    el("td", { text: validText(assignment) }),
    el("td", {}, el("button", {
      type: "button", class: "secondary", text: t("admin.tariffs.remove"),
      "aria-label": t("admin.tariffs.remove_named", { id: assignment.id }), onclick: () => remove(assignment),
    })),
  );
}

async function remove(assignment) {
  const confirmed = await confirmAction({
    title: t("admin.tariffs.remove_title", { id: assignment.id }),
    text: t("admin.tariffs.remove_explained", { tariff: tariffName(assignment.tariff_id), where: whereText(assignment), who: whoText(assignment) }),
    confirm: t("admin.tariffs.remove_confirm"),
  });
  if (!confirmed) return;
  const output = $("#tariff-assignments-message");
  try {
    await api.delete(`/api/admin/tariff_assignments/${assignment.id}`);
    say(output, t("admin.tariffs.removed_message", { id: assignment.id }));
  } catch (error) {
    say(output, error.message, { error: true });
  }
  await show();
}

/** Which tariff a session at `place` would start with, and the assignment that puts it in force. */
async function showCheck(place) {
  const found = await api.get(`/api/admin/tariff_for?${new URLSearchParams(place)}`);
  const at = place.at ? when(place.at) : t("admin.tariffs.now");
  const where = t("common.connector_of", { charger: place.charge_point_id, connector: place.connector_id });
  const result = $("#tariff-check-result");
  if (!found) {
    fill(result, el("p", { class: "message", "data-result": "none", text: t("admin.tariffs.none_applies", { where, at }) }));
    return;
  }
  const { assignment } = found;
  const facts = [
    [t("admin.tariffs.prices"), pricesText(found)],
    [t("admin.tariffs.tax"), taxText(found)],
    [t("admin.tariffs.why"), t("admin.tariffs.assignment_numbered", { id: assignment.id })],
    [t("admin.tariffs.where"), whereText(assignment)],
    [t("admin.tariffs.who"), whoText(assignment)],
    [t("admin.tariffs.valid"), validText(assignment)],
  ];
  fill(result,
    el("p", { class: "message", "data-result": found.id, text: t("admin.tariffs.applies", { tariff: tariffLabel(found), where, at }) }),
    el("dl", { class: "facts" }, ...facts.flatMap(([term, text]) => [el("dt", { text: term }), el("dd", { text })])),
  );
}
