// A charger's diagnostics and logs (its page's Diagnostics card): ask for them with an upload link csms serves,
// follow each request's status live, and download the file the charger uploaded.

import { t } from "../i18n.js";
import { $, badge, debounce, download, el, fillRows, isShown, onSubmit, say, when } from "../ui.js";

let api;
let current = null;

const path = (suffix = "") => `/api/admin/chargers/${encodeURIComponent(current)}/diagnostics${suffix}`;

export function init(context) {
  api = context.api;
  const reload = debounce(() => isShown("charger") && current && load().catch(showError), 300);
  context.hub.on("open", reload);
  context.hub.on("diagnostics_status", (event) => event.charge_point_id === current && reload());
  onSubmit($("#request-diagnostics"), $("#diagnostics-message"), async ({ log_type: logType }) => {
    const request = await api.post(path(), logType ? { log_type: logType } : {});
    say($("#diagnostics-message"), t("admin.diagnostics.requested_answer", { id: request.id, status: statusText(request.status) }),
      { error: !ANSWERED.has(request.status) });
    await load();
  });
}

/** Show the card for the charger `chargePointId` (its page calls this). */
export async function show(chargePointId) {
  current = chargePointId;
  say($("#diagnostics-message"), "");
  await load();
}

// What a charger answers when it will upload (GetLog's AcceptedCanceled: it dropped an earlier upload for this one).
const ANSWERED = new Set(["Accepted", "AcceptedCanceled"]);
const FAILED = new Set(["SendFailed", "NoDiagnostics", "UploadFailed", "UploadFailure", "Rejected", "BadMessage",
  "NotSupportedOperation", "PermissionDenied"]);

const statusText = (status) => t(`admin.diagnostics.status.${status}`, { defaultValue: status });
const kindText = (logType) => (logType ? t(`admin.diagnostics.kind.${logType}`, { defaultValue: logType }) : t("admin.diagnostics.kind.diagnostics"));

function statusBadge(status) {
  const kind = FAILED.has(status) ? "failed" : status === "Uploaded" ? "done" : "under-way";
  return badge(statusText(status), kind);
}

async function load() {
  const requests = await api.get(path());
  const rows = requests.map(requestRow);
  fillRows($("#diagnostics-table tbody"), rows, t("admin.diagnostics.none"));
}

function requestRow(request) {
  return el("tr", { "data-request": request.id },
    el("td", { class: "num", text: String(request.id) }),
    el("td", { text: when(request.created_at) }),
    el("td", { text: kindText(request.log_type) }),
    el("td", {}, statusBadge(request.status)),
    el("td", {}, request.file_id ? downloadButton(request) : el("span", { class: "muted", text: t("admin.diagnostics.no_file_yet") })),
    el("td", { text: when(request.updated_at) }));
}

function downloadButton(request) {
  const name = request.file_name || `diagnostics-${request.id}`;
  return el("button", {
    type: "button", class: "secondary", text: t("admin.diagnostics.download"),
    "aria-label": t("admin.diagnostics.download_named", { id: request.id }),
    onclick: () => api.blob(`/api/admin/diagnostics/${request.id}/file`).then((blob) => download(blob, name), showError),
  });
}

function showError(error) {
  say($("#diagnostics-message"), error.message, { error: true });
}
