// Vehicles, RFID cards and the account: add, rename, remove, report a card lost, change the password.

import { t } from "../i18n.js";
import { $, confirmAction, el, fill, onSubmit, say } from "../ui.js";

let api;
let budgetEditedWhileLoading = false;

export function init(context) {
  api = context.api;
  onSubmit($("#add-vehicle"), $("#vehicle-message"), async (fields) => {
    await api.post("/api/me/vehicles", withoutBlanks(fields));
    $("#add-vehicle").reset();
    await show();
  });
  onSubmit($("#add-card"), $("#card-message"), async (fields) => {
    await api.post("/api/me/id_tags", withoutBlanks(fields));
    $("#add-card").reset();
    await show();
  });
  onSubmit($("#budget"), $("#budget-message"), async ({ max_kwh: maxKwh, max_cost: maxCost }) => {
    if (!maxKwh && !maxCost) throw new Error(t("app.garage.budget_empty"));
    const budget = {
      max_energy_wh: maxKwh ? Math.round(Number(maxKwh) * 1000) : null,
      max_cost: maxCost || null,
    };
    showBudget(await api.put("/api/me/budget", budget));
    say($("#budget-message"), t("app.garage.budget_saved"));
  });
  $("#budget").addEventListener("input", () => { budgetEditedWhileLoading = true; });
  $("#clear-budget").addEventListener("click", () => act($("#budget-message"), async () => {
    await api.delete("/api/me/budget");
    say($("#budget-message"), t("app.garage.budget_cleared"));
  }));
  onSubmit($("#change-password"), $("#password-message"), async ({ old_password, new_password }) => {
    await api.post("/api/me/password", { old_password, new_password });
    $("#change-password").reset();
    say($("#password-message"), t("app.garage.password_changed"));
  });
}

const withoutBlanks = (fields) => Object.fromEntries(Object.entries(fields).filter(([, value]) => value.trim() !== ""));

export async function show() {
  budgetEditedWhileLoading = false;
  const [vehicles, cards, budget] = await Promise.all([api.get("/api/me/vehicles"), api.get("/api/me/id_tags"), myBudget()]);
  fill($("#vehicle-list"), ...(vehicles.length ? vehicles.map(vehicleItem) : [el("li", { text: t("app.garage.no_vehicles") })]));
  fill($("#card-list"), ...cards.map(cardItem));
  // On a slow connection the driver may already be typing a budget: the loaded one must not erase it.
  if (!budgetEditedWhileLoading) showBudget(budget);
  else $("#clear-budget").hidden = !budget;
}

/** The driver's budget per session, or null when none is set (the API's 404). */
async function myBudget() {
  try {
    return await api.get("/api/me/budget");
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

function showBudget(budget) {
  const form = $("#budget");
  form.elements.max_kwh.value = budget?.max_energy_wh ? budget.max_energy_wh / 1000 : "";
  form.elements.max_cost.value = budget?.max_cost ?? "";
  $("#clear-budget").hidden = !budget;
}

function vehicleItem(vehicle) {
  const details = [vehicle.make, vehicle.model, vehicle.plate].filter(Boolean).join(" · ");
  const item = el("li", { "data-vehicle": vehicle.id },
    el("span", {}, el("strong", { text: vehicle.name }), details ? ` ${details}` : ""),
    el("span", { class: "inline" },
      renameButton(t("app.garage.rename_named", { name: vehicle.name }), () => renameVehicle(item, vehicle)),
      removeButton(t("app.garage.remove_named", { name: vehicle.name }), `/api/me/vehicles/${vehicle.id}`, $("#vehicle-message"))));
  return item;
}

function cardItem(card) {
  const isApp = card.id_tag === api.tokens?.idTag;  // the tag this app charges with stays
  const label = isApp ? t("app.garage.this_app") : card.label || t("app.garage.card");
  const status = t(`card_status.${card.status}`, { defaultValue: card.status });
  const item = el("li", { "data-card": card.id_tag },
    el("span", {}, el("code", { text: card.id_tag }), ` ${label} · ${status}`));
  if (isApp) return item;
  const path = `/api/me/id_tags/${encodeURIComponent(card.id_tag)}`;
  const actions = [renameButton(t("app.garage.rename_card", { id: card.id_tag }), () => renameCard(item, card, path))];
  // A blocked card stays on the account (the API refuses to remove it): only an operator unblocks it.
  if (card.status !== "Blocked") {
    actions.push(
      el("button", {
        type: "button", class: "danger", text: t("app.garage.lost"), "aria-label": t("app.garage.lost_card", { id: card.id_tag }),
        onclick: () => reportLost(card, path),
      }),
      removeButton(t("app.garage.remove_card", { id: card.id_tag }), path, $("#card-message")));
  }
  item.append(el("span", { class: "inline" }, ...actions));
  return item;
}

async function reportLost(card, path) {
  const confirmed = await confirmAction({
    title: t("app.garage.lost_title", { id: card.id_tag }),
    text: t("app.garage.lost_explained"),
    confirm: t("app.garage.lost_confirm"),
  });
  if (!confirmed) return;
  await act($("#card-message"), async () => {
    await api.post(`${path}/lost`);
    say($("#card-message"), t("app.garage.lost_done", { id: card.id_tag }));
  });
}

function renameCard(item, card, path) {
  editInPlace(item, { label: t("app.garage.card_label"), value: card.label || "", maxlength: 64, required: false },
    (label) => api.patch(path, { label: label || null }), $("#card-message"));
}

function renameVehicle(item, vehicle) {
  const { id, make, model, plate, battery_capacity_kwh } = vehicle;
  editInPlace(item, { label: t("app.garage.vehicle_name"), value: vehicle.name, maxlength: 64, required: true },
    (name) => api.put(`/api/me/vehicles/${id}`, { name, make, model, plate, battery_capacity_kwh }), $("#vehicle-message"));
}

/** Replace a list item by a one-field form; saving or cancelling shows the list again. */
function editInPlace(item, { label, value, maxlength, required }, save, output) {
  const input = el("input", { name: "value", value, maxlength, required });
  const form = el("form", { class: "inline" },
    el("label", {}, el("span", { text: label }), " ", input),
    el("button", { type: "submit", text: t("app.garage.save") }),
    el("button", { type: "button", class: "secondary", text: t("common.cancel"), onclick: () => show() }));
  onSubmit(form, output, async ({ value: edited }) => {
    await save(edited.trim());
    await show();
  });
  fill(item, form);
  input.focus();
}

function renameButton(label, onclick) {
  return el("button", { type: "button", class: "secondary", text: t("app.garage.rename"), "aria-label": label, onclick });
}

function removeButton(label, path, output) {
  return el("button", {
    type: "button", class: "secondary", text: t("app.garage.remove"), "aria-label": label,
    onclick: () => act(output, async () => {
      await api.delete(path);
      say(output, "");
    }),
  });
}

/** Run `action`, show the list again, and put a failure in `output`. */
async function act(output, action) {
  try {
    await action();
    await show();
  } catch (error) {
    say(output, error.message, { error: true });
  }
}
