// Start charging: scan the sticker's QR code, open its link, or type the charger id; see the connector's
// status and price, then start where the connector is free.

import { $, badge, fill, money, onSubmit, say } from "../ui.js";
import { qrReader } from "./qr_reader.js";
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
  if (!canScan()) $("#scan-hint").textContent = "Type the charger id printed on the sticker, under its QR code.";
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
  const price = await api.get(`${where}/price`);
  $("#paired-title").textContent = `${paired.charge_point_id} · connector ${paired.connector_id}`;
  fill($("#paired-status"), badge(paired.status));
  fill($("#paired-connection"), paired.is_connected ? badge("Online", "online") : badge("Offline", "offline"));
  $("#paired-price").textContent = price ? priceText(price) : "No tariff applies here: the session is not charged for.";
  showWhyNot(whyNot(paired));
  $("#paired").hidden = false;
  $("#paired-title").scrollIntoView({ block: "nearest" });
  ($("#start").disabled ? $("#paired") : $("#start")).focus();
}

/** Why Start is off, in a sentence; null when the connector can start. */
function whyNot(connector) {
  if (connector.start_refused) return `${capitalized(connector.start_refused)}: you cannot start here now.`;
  if (!connector.is_connected) return "The charger is offline: it cannot start now.";
  return null;
}

function showWhyNot(reason) {
  $("#start").disabled = Boolean(reason);
  $("#start-why").textContent = reason || "";
  $("#start-why").hidden = !reason;
}

const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1);

/** "€0.48 per kWh · €1.80 per session · incl. 20% tax", by the browser's locale. */
export function priceText(price) {
  const parts = [
    [price.per_kwh, "per kWh"],
    [price.per_charging_minute, "per minute charging"],
    [price.per_idle_minute, "per minute idle"],
    [price.session_fee, "per session"],
  ].filter(([amount]) => Number(amount) > 0).map(([amount, unit]) => `${money(amount, price.currency, { unit: true })} ${unit}`);
  const rate = Number(price.tax_rate);
  const tax = rate > 0 ? `incl. ${new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 2 }).format(rate)} tax` : "no tax";
  return parts.length ? [...parts, tax].join(" · ") : `Free (${price.name})`;
}

async function start() {
  $("#start").disabled = true;
  say($("#charge-message"), "Asking the charger to start…");
  try {
    const answer = await api.post("/api/start_charging", { evse_id: paired.charge_point_id, connector_id: paired.connector_id });
    if (answer.status !== "Accepted") throw new Error(`The charger refused to start (${answer.status}). Is the cable plugged in?`);
    $("#start").disabled = false;
    expectStart();
    location.hash = "#/session";
  } catch (error) {
    if (error.status === 409) {
      showWhyNot(`${capitalized(error.message)}.`);
      error.message = `Not started: ${error.message}.`;
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
  say($("#charge-message"), "Point the camera at the QR code on the charger.");
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
    say($("#charge-message"), cancelled ? "Scanning cancelled." : "No QR code found. Try again closer to the sticker, or type the charger id.");
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
