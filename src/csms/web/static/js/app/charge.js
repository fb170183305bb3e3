// Start charging: scan the sticker's QR code, open its link, or type the charger id; see the connector's
// status and price, then start where the connector is free, or reserve it (reservations.js).

import { t } from "../i18n.js";
import { $, badge, el, fill, money, onSubmit, percent, say, statusBadge } from "../ui.js";
import { qrReader } from "./qr_reader.js";
import * as reservations from "./reservations.js";
import { expectStart } from "./session.js";

const PENDING = "csms.app.pairing";  // a sticker link opened before login, kept through login or signup
const SCAN_TIMEOUT_MS = 60000;
const SCAN_INTERVAL_MS = 200;

let api;
let paired = null;
let scanning = null;  // {cancel()} while the camera is on

export function init(context) {
  api = context.api;
  $("#scan").hidden = !canScan();
  if (!canScan()) {
    $("#scan-hint").dataset.i18n = "app.charge.type_hint";
    $("#scan-hint").textContent = t("app.charge.type_hint");
  }
  const failed = (error) => say($("#charge-message"), error.message, { error: true });
  $("#scan").addEventListener("click", () => scan().catch(failed));
  $("#scan-cancel").addEventListener("click", () => scanning?.cancel());
  onSubmit($("#find-charger"), $("#charge-message"), ({ charge_point_id, connector_id }) => pair(typedCode(charge_point_id, connector_id)));
  $("#start").addEventListener("click", () => start().catch(failed));
}

/** A sticker's link opened the app (/app/pair?cp=...): pair with it once the driver is logged in. */
export function pairLater(link) {
  sessionStorage.setItem(PENDING, link);
}

/** The charger and connector a waiting sticker link names, for the login page to say where. */
export function pendingPlace() {
  const link = sessionStorage.getItem(PENDING);
  if (!link) return null;
  const query = new URL(link).searchParams;
  return { charge_point_id: query.get("cp"), connector_id: query.get("connector") };
}

export async function show() {
  say($("#charge-message"), "");
  await reservations.show();
  const link = sessionStorage.getItem(PENDING);
  if (link) {
    sessionStorage.removeItem(PENDING);
    await pair(link);
  }
}

function canScan() {
  return Boolean(navigator.mediaDevices?.getUserMedia);
}

// The seed's ocpp://CP001?connector=1 (or a sticker link) pasted into the id field is read as it is.
function typedCode(chargePointId, connectorId) {
  const typed = chargePointId.trim();
  if (typed.includes("://")) return typed;
  return `ocpp://${encodeURIComponent(typed)}?connector=${Number(connectorId)}`;
}

async function pair(qr) {
  paired = await api.post("/api/pair", { qr });
  const where = `/api/chargers/${encodeURIComponent(paired.charge_point_id)}/connectors/${paired.connector_id}`;
  const [price] = await Promise.all([api.get(`${where}/price`), loadVehicles()]);
  lastPrice = price;
  reservations.offerAt(paired);
  renderPaired();
  showWhyNot(whyNot(paired));
  $("#paired").hidden = false;
  $("#paired-title").scrollIntoView({ block: "nearest" });
  ($("#start").disabled ? $("#paired") : $("#start")).focus();
}

let lastPrice = null;
let vehicles = [];
let appTag = null;  // the app's own idTag: its vehicle is the one the next session is recorded for

async function loadVehicles() {
  const [found, tags] = await Promise.all([api.get("/api/me/vehicles"), api.get("/api/me/id_tags")]);
  vehicles = found;
  appTag = tags.find((tag) => tag.id_tag === api.tokens?.idTag) || null;
}

/** The vehicle choice, when the driver has vehicles: the app's tag's vehicle, or none. */
function renderVehicles() {
  $("#start-vehicle-field").hidden = vehicles.length === 0 || !appTag;
  fill($("#start-vehicle"),
    el("option", { value: "", text: t("app.charge.no_vehicle") }),
    ...vehicles.map((vehicle) => el("option", { value: vehicle.id, text: vehicle.name, selected: vehicle.id === appTag?.vehicle_id })));
}

/** Bind the app's tag to the chosen vehicle before the start, so the session is recorded for it. */
async function bindChosenVehicle() {
  if ($("#start-vehicle-field").hidden) return;
  const chosen = $("#start-vehicle").value ? Number($("#start-vehicle").value) : null;
  if (chosen === (appTag.vehicle_id ?? null)) return;
  appTag = await api.patch(`/api/me/id_tags/${encodeURIComponent(appTag.id_tag)}`, { vehicle_id: chosen });
}

/** The paired connector's facts, in the page's language (again after a language switch). */
export function renderPaired() {
  if (!paired) return;
  $("#paired-title").textContent = t("common.connector_of", { charger: paired.charge_point_id, connector: paired.connector_id });
  fill($("#paired-status"), statusBadge(paired.status));
  fill($("#paired-connection"), paired.is_connected ? badge(t("common.online"), "online") : badge(t("common.offline"), "offline"));
  $("#paired-price").textContent = lastPrice ? priceText(lastPrice) : t("app.charge.no_tariff");
  renderVehicles();
  if (!$("#start-why").hidden && whyNot(paired)) showWhyNot(whyNot(paired));
}

/** Why Start is off, in a sentence; null when the connector can start. */
function whyNot(connector) {
  if (connector.start_refused) return t("app.charge.refused_here", { reason: capitalized(connector.start_refused) });
  if (!connector.is_connected) return t("app.charge.offline_here");
  return null;
}

function showWhyNot(reason) {
  $("#start").disabled = Boolean(reason);
  $("#start-why").textContent = reason || "";
  $("#start-why").hidden = !reason;
}

const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1);

/** "€0.48 per kWh · €1.80 per session · incl. 20% tax", in the page's language. */
export function priceText(price) {
  const parts = [
    [price.per_kwh, (amount) => t("app.price.per_kwh", { amount })],
    [price.per_charging_minute, (amount) => t("app.price.per_charging_minute", { amount })],
    [price.per_idle_minute, (amount) => t("app.price.per_idle_minute", { amount })],
    [price.session_fee, (amount) => t("app.price.per_session", { amount })],
  ].filter(([amount]) => Number(amount) > 0).map(([amount, text]) => text(money(amount, price.currency, { unit: true })));
  const rate = Number(price.tax_rate);
  const tax = rate > 0 ? t("app.price.tax_included", { rate: percent(rate) }) : t("app.price.no_tax");
  return parts.length ? [...parts, tax].join(" · ") : t("app.price.free", { name: price.name });
}

async function start() {
  $("#start").disabled = true;
  say($("#charge-message"), t("app.charge.starting"));
  try {
    await bindChosenVehicle();
    const answer = await api.post("/api/start_charging", { evse_id: paired.charge_point_id, connector_id: paired.connector_id });
    if (answer.status !== "Accepted") throw new Error(t("app.charge.start_refused", { status: answer.status }));
    $("#start").disabled = false;
    expectStart();
    location.hash = "#/session";
  } catch (error) {
    if (error.status === 409) {
      showWhyNot(`${capitalized(error.message)}.`);
      error.message = t("app.charge.not_started", { reason: error.message });
    } else {
      $("#start").disabled = false;
    }
    throw error;
  }
}

/** Read a QR code from the camera until one is found, the driver cancels, or SCAN_TIMEOUT_MS pass. */
async function scan() {
  if (scanning) return;
  const video = $("#camera");
  let cancelled = false;
  let camera = null;
  scanning = { cancel: () => { cancelled = true; } };
  setScanning(true);
  say($("#charge-message"), t("app.charge.point_camera"));
  try {
    const [reader, stream] = await Promise.all([qrReader(), navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })]);
    camera = stream;
    const deadline = Date.now() + SCAN_TIMEOUT_MS;
    video.srcObject = camera;
    video.hidden = false;
    await video.play();
    while (!cancelled && Date.now() < deadline) {
      const text = await reader.read(video);
      if (text) {
        stopCamera(camera, video);
        say($("#charge-message"), "");
        return await pair(text);
      }
      await new Promise((resolve) => setTimeout(resolve, SCAN_INTERVAL_MS));
    }
    say($("#charge-message"), cancelled ? t("app.charge.scan_cancelled") : t("app.charge.scan_timeout"));
  } finally {
    stopCamera(camera, video);
    scanning = null;
    setScanning(false);
  }
}

function stopCamera(camera, video) {
  camera?.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
  video.hidden = true;
}

function setScanning(on) {
  $("#scan").hidden = on;
  $("#scan-cancel").hidden = !on;
  $("#scanner").setAttribute("aria-busy", String(on));
}
