// Start charging: scan the sticker's QR code (where the browser can) or type the charger id.

import { $, badge, fill, onSubmit, say } from "../ui.js";
import { expectStart } from "./session.js";

let api;
let paired = null;
let camera = null;

export function init(context) {
  api = context.api;
  $("#scan").hidden = !canScan();
  if (!canScan()) $("#scan-hint").textContent = "Type the charger id printed on the sticker, under its QR code.";
  $("#scan").addEventListener("click", () => scan().catch((error) => say($("#charge-message"), error.message, { error: true })));
  onSubmit($("#find-charger"), $("#charge-message"), ({ charge_point_id, connector_id }) =>
    pair(`ocpp://${encodeURIComponent(charge_point_id.trim())}?connector=${Number(connector_id)}`));
  $("#start").addEventListener("click", () => start().catch((error) => say($("#charge-message"), error.message, { error: true })));
}

export function show() {
  say($("#charge-message"), "");
}

function canScan() {
  return "BarcodeDetector" in window && Boolean(navigator.mediaDevices?.getUserMedia);
}

async function pair(qr) {
  paired = await api.post("/api/pair", { qr });
  $("#paired-title").textContent = `${paired.charge_point_id} · connector ${paired.connector_id}`;
  fill($("#paired-status"), badge(paired.status));
  fill($("#paired-connection"), paired.is_connected ? badge("Online", "online") : badge("Offline", "offline"));
  $("#start").disabled = !paired.is_connected;
  $("#paired").hidden = false;
  $("#start").focus();
}

async function start() {
  $("#start").disabled = true;
  say($("#charge-message"), "Asking the charger to start…");
  try {
    const answer = await api.post("/api/start_charging", { evse_id: paired.charge_point_id, connector_id: paired.connector_id });
    if (answer.status !== "Accepted") throw new Error(`The charger refused to start (${answer.status}). Is the cable plugged in?`);
    expectStart();
    location.hash = "#/session";
  } finally {
    $("#start").disabled = false;
  }
}

/** Read a QR code from the camera with the BarcodeDetector API, then pair with it. */
async function scan() {
  const video = $("#camera");
  camera = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  video.srcObject = camera;
  video.hidden = false;
  await video.play();
  const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
  try {
    for (;;) {
      const [code] = await detector.detect(video);
      if (code?.rawValue) return await pair(code.rawValue);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    camera.getTracks().forEach((track) => track.stop());
    video.hidden = true;
  }
}
