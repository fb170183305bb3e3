// Reservations: hold the connector the driver found for a while (ReserveNow), see the reservation held with its
// expiry on the Charge view, and cancel it (CancelReservation).

import { t } from "../i18n.js";
import { $, clock, confirmAction, onSubmit, say } from "../ui.js";

let api;
let place = null;  // the connector the Charge view found: {charge_point_id, connector_id}
let held = null;  // the driver's reservation held now, if any
let expiryTimer = null;

export function init(context) {
  api = context.api;
  onSubmit($("#reserve"), $("#reservation-message"), ({ minutes }) => reserve(Number(minutes)));
  $("#cancel-reservation").addEventListener("click", () => cancel().catch((error) => say($("#reservation-message"), error.message, { error: true })));
}

/** The Charge view found a connector: it may be reserved from there. */
export function offerAt(connector) {
  place = { charge_point_id: connector.charge_point_id, connector_id: connector.connector_id };
}

export async function show() {
  const mine = await api.get("/api/reservations");
  showHeld(mine.find(isHeld) || null);
}

const isHeld = (reservation) => reservation.status === "Accepted" && new Date(reservation.expires_at) > new Date();

/** The held reservation's card, in the page's language (again after a language switch); hidden at its expiry. */
export function renderHeld() {
  $("#my-reservation").hidden = !held;
  if (!held) return;
  $("#reservation-where").textContent = held.connector_id
    ? t("common.connector_of", { charger: held.charge_point_id, connector: held.connector_id })
    : held.charge_point_id;
  $("#reservation-expiry").textContent = t("app.reservations.held_until", { time: clock(held.expires_at) });
}

function showHeld(reservation) {
  held = reservation;
  clearTimeout(expiryTimer);
  if (held) expiryTimer = setTimeout(() => showHeld(null), new Date(held.expires_at) - Date.now());
  renderHeld();
}

async function reserve(minutes) {
  if (!place) return;
  const body = { evse_id: place.charge_point_id, connector_id: place.connector_id, minutes };
  const reservation = await api.post("/api/reservations", body);
  if (reservation.status !== "Accepted") throw new Error(t("app.reservations.refused", { status: reservation.status }));
  showHeld(reservation);
  say($("#reservation-message"), t("app.reservations.reserved", { time: clock(reservation.expires_at) }));
  $("#my-reservation").focus();
}

async function cancel() {
  if (!held) return;
  const where = $("#reservation-where").textContent;
  const confirmed = await confirmAction({
    title: t("app.reservations.cancel_title", { where }),
    text: t("app.reservations.cancel_explained"),
    confirm: t("app.reservations.cancel_confirm"),
  });
  if (!confirmed) return;
  await api.delete(`/api/reservations/${held.id}`);
  showHeld(null);
  say($("#reservation-message"), t("app.reservations.cancelled", { where }));
}
