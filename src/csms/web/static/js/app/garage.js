// Vehicles and RFID cards of the account.

import { t } from "../i18n.js";
import { $, el, fill, onSubmit, say } from "../ui.js";

let api;

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
}

const withoutBlanks = (fields) => Object.fromEntries(Object.entries(fields).filter(([, value]) => value.trim() !== ""));

export async function show() {
  const [vehicles, cards] = await Promise.all([api.get("/api/me/vehicles"), api.get("/api/me/id_tags")]);
  fill($("#vehicle-list"), ...(vehicles.length ? vehicles.map(vehicleItem) : [el("li", { text: t("app.garage.no_vehicles") })]));
  fill($("#card-list"), ...cards.map(cardItem));
}

function vehicleItem(vehicle) {
  const details = [vehicle.make, vehicle.model, vehicle.plate].filter(Boolean).join(" · ");
  return el("li", {},
    el("span", {}, el("strong", { text: vehicle.name }), details ? ` ${details}` : ""),
    removeButton(t("app.garage.remove_named", { name: vehicle.name }), `/api/me/vehicles/${vehicle.id}`, $("#vehicle-message")));
}

function cardItem(card) {
  const isApp = card.id_tag === api.tokens?.idTag;  // the tag this app charges with stays
  const label = isApp ? t("app.garage.this_app") : card.label || t("app.garage.card");
  return el("li", {},
    el("span", {}, el("code", { text: card.id_tag }), ` ${label} · ${t(`card_status.${card.status}`, { defaultValue: card.status })}`),
    isApp ? null : removeButton(t("app.garage.remove_card", { id: card.id_tag }), `/api/me/id_tags/${encodeURIComponent(card.id_tag)}`, $("#card-message")));
}

function removeButton(label, path, output) {
  return el("button", {
    type: "button", class: "secondary", text: t("app.garage.remove"), "aria-label": label,
    onclick: async () => {
      try {
        await api.delete(path);
        await show();
      } catch (error) {
        say(output, error.message, { error: true });
      }
    },
  });
}
