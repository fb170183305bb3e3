// Firmware: upload an image to csms, install it on the chargers the operator picks (a rollout), and follow each
// charger's progress live on the rollout's page (#/firmware/rollouts/:id).

import { locale, t } from "../i18n.js";
import { $, $$, badge, confirmAction, debounce, el, fill, fillRows, isShown, onSubmit, say, when } from "../ui.js";
import { connectionBadge } from "./chargers.js";

const PENDING = "Pending";
const DONE = new Set(["Installed", "Confirmed", "SignatureVerified"]);
const FAILED = new Set(["SendFailed", "DownloadFailed", "InstallationFailed", "VersionMismatch", "InvalidSignature",
  "InstallVerificationFailed"]);

let api;
let images = [];
// The rollout its page shows: its id, and its chargers (whose live events concern it).
let watched = null;
let sendingPoll = null;

export function init(context) {
  api = context.api;
  const reloadRollout = debounce(() => isShown("rollout") && loadRollout().catch(showPageError), 300);
  context.hub.on("open", reloadRollout);
  // Sent and SendFailed come with no event; the rest (Downloading ... Installed, Confirmed at the boot) do.
  for (const kind of ["firmware_status", "charger_booted"]) {
    context.hub.on(kind, (event) => watched?.chargers.has(event.charge_point_id) && reloadRollout());
  }
  onSubmit($("#upload-firmware"), $("#upload-firmware-message"), upload);
  onSubmit($("#start-rollout"), $("#start-rollout-message"), startRollout);
  $("#choose-all-chargers").addEventListener("change", (event) => {
    chargerBoxes().forEach((box) => { box.checked = event.target.checked; });
  });
}

export async function show() {
  watched = null;
  await Promise.all([loadImages(), loadChargers(), loadRollouts()]);
}

export async function showRollout({ id }) {
  watched = { id, chargers: new Set() };
  await loadRollout();
}

const statusText = (status) => t(`admin.firmware.status.${status}`, { defaultValue: status });
const imageName = (image) => (image.version ? `${image.name} (${image.version})` : image.name);
const chargerBoxes = () => $$("#rollout-chargers tbody input[type=checkbox]");

function statusBadge(status) {
  return badge(statusText(status), DONE.has(status) ? "done" : FAILED.has(status) ? "failed" : "under-way");
}

/** "195.3 kB", "12 MB": a file's size in the page's language. */
function bytes(size) {
  const [unit, scale] = size >= 1e6 ? ["megabyte", 1e6] : size >= 1e3 ? ["kilobyte", 1e3] : ["byte", 1];
  return new Intl.NumberFormat(locale(), { style: "unit", unit, maximumFractionDigits: 1 }).format(size / scale);
}

function countBadges(counts) {
  return Object.entries(counts).map(([status, count]) => {
    const node = statusBadge(status);
    node.textContent = t("admin.rollout.count", { status: statusText(status), count });
    return node;
  });
}

async function upload({ file, version }) {
  const form = new FormData();
  form.append("file", file);
  const query = version.trim() ? `?${new URLSearchParams({ version: version.trim() })}` : "";
  say($("#upload-firmware-message"), t("admin.firmware.uploading", { name: file.name }));
  const stored = await api.post(`/api/admin/firmware${query}`, form);
  $("#upload-firmware").reset();
  say($("#upload-firmware-message"), t("admin.firmware.uploaded_done", { name: imageName(stored), size: bytes(stored.size) }));
  await loadImages(stored.id);
}

// The images, in their table and in the rollout form's choice (`selected`, else the one chosen before).
async function loadImages(selected) {
  images = await api.get("/api/admin/firmware");
  const rows = images.map((image) => el("tr", { "data-image": image.id },
    el("td", { text: image.name }),
    el("td", { text: image.version || "–" }),
    el("td", { class: "num nowrap", text: bytes(image.size) }),
    el("td", { class: "mono", title: image.sha256, text: `${image.sha256.slice(0, 12)}…` }),
    el("td", { text: when(image.created_at) })));
  fillRows($("#firmware-table tbody"), rows, t("admin.firmware.no_images"));
  const choice = $("#start-rollout select[name=file_id]");
  const keep = String(selected ?? choice.value);
  fill(choice, ...(images.length
    ? images.map((image) => el("option", { value: image.id, text: imageName(image), selected: String(image.id) === keep }))
    : [el("option", { value: "", text: t("admin.firmware.upload_first") })]));
}

async function loadChargers() {
  const chosen = new Set(chargerBoxes().filter((box) => box.checked).map((box) => box.value));
  const chargers = await api.get("/api/admin/chargers");
  const rows = chargers.map((charger) => {
    const id = charger.charge_point_id;
    return el("tr", { "data-rollout-choice": id },
      el("td", {}, el("input", { type: "checkbox", value: id, checked: chosen.has(id), "aria-label": t("admin.firmware.choose_named", { id }) })),
      el("td", { class: "nowrap" }, el("a", { href: `#/chargers/${encodeURIComponent(id)}`, text: id })),
      el("td", {}, connectionBadge(id, charger.is_connected)),
      el("td", { text: charger.ocpp_version || "–" }),
      el("td", { text: charger.firmware_version || "–" }));
  });
  fillRows($("#rollout-chargers tbody"), rows, t("admin.chargers.none"));
  $("#choose-all-chargers").checked = false;
}

async function loadRollouts() {
  const rollouts = await api.get("/api/admin/firmware/rollouts");
  const rows = rollouts.map((rollout) => el("tr", { "data-rollout": rollout.id },
    el("td", { class: "num" }, el("a", {
      href: `#/firmware/rollouts/${rollout.id}`, text: `#${rollout.id}`, "aria-label": t("admin.rollout.title", { id: rollout.id }),
    })),
    el("td", { text: imageName(rollout.firmware) }),
    el("td", { text: when(rollout.created_at) }),
    el("td", {}, el("span", { class: "connectors" }, ...countBadges(rollout.counts)))));
  fillRows($("#rollouts-table tbody"), rows, t("admin.firmware.no_rollouts"));
}

const optionalNumber = (name, value) => (value === "" ? {} : { [name]: Number(value) });

async function startRollout({ file_id: fileId, retries, retry_interval: retryInterval }) {
  const chosen = chargerBoxes().filter((box) => box.checked).map((box) => box.value);
  const image = images.find((found) => String(found.id) === fileId);
  if (!image) throw new Error(t("admin.firmware.upload_first"));
  if (!chosen.length) throw new Error(t("admin.firmware.choose_chargers"));
  const name = imageName(image);
  const title = chosen.length === 1
    ? t("admin.firmware.install_title_single", { name, id: chosen[0] })
    : t("admin.firmware.install_title_many", { name, count: chosen.length });
  const confirmed = await confirmAction({ title, text: t("admin.firmware.install_explained"), confirm: t("admin.firmware.install_confirm") });
  if (!confirmed) return;
  const body = { charge_point_ids: chosen, ...optionalNumber("retries", retries), ...optionalNumber("retry_interval", retryInterval) };
  const rollout = await api.post(`/api/admin/firmware/${encodeURIComponent(fileId)}/rollouts`, body);
  location.hash = `#/firmware/rollouts/${rollout.id}`;
}

async function loadRollout() {
  const rollout = await api.get(`/api/admin/firmware/rollouts/${encodeURIComponent(watched.id)}`);
  watched.chargers = new Set(rollout.chargers.map((update) => update.charge_point_id));
  $("#rollout-title").textContent = t("admin.rollout.title", { id: rollout.id });
  const facts = [
    [t("admin.firmware.image"), imageName(rollout.firmware)],
    ["SHA-256", el("span", { class: "mono", text: rollout.firmware.sha256 })],
    [t("admin.firmware.started"), when(rollout.created_at)],
    [t("admin.rollout.retrieve_from"), when(rollout.retrieve_date)],
    [t("admin.rollout.signed"), rollout.signed ? t("admin.charger.yes") : t("admin.charger.no")],
  ];
  fill($("#rollout-facts"), ...facts.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value)]));
  fill($("#rollout-counts"), ...countBadges(rollout.counts));
  fill($("#rollout-progress tbody"), ...rollout.chargers.map(progressRow));
  pollWhileSending(rollout);
}

function progressRow(update) {
  const id = update.charge_point_id;
  return el("tr", { "data-rollout-charger": id },
    el("td", { class: "nowrap" }, el("a", { href: `#/chargers/${encodeURIComponent(id)}`, text: id })),
    el("td", {}, statusBadge(update.status)),
    el("td", { text: update.detail || "–" }),
    el("td", { text: update.reported_version || "–" }),
    el("td", { text: update.transfer_scheme || "–" }),
    el("td", { text: when(update.updated_at) }));
}

// csms sends UpdateFirmware in the background, and its answers (Sent, SendFailed) come with no live event.
function pollWhileSending(rollout) {
  clearTimeout(sendingPoll);
  if (!rollout.chargers.some((update) => update.status === PENDING)) return;
  sendingPoll = setTimeout(() => isShown("rollout") && watched?.id === String(rollout.id) && loadRollout().catch(showPageError), 1000);
}

function showPageError(error) {
  say($("#page-error"), error.message, { error: true });
}
