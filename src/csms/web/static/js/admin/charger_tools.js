// A charger's smart charging and access (its page's Charging profiles and Password cards): the profiles it holds,
// each cleared after asking (ClearChargingProfile); the composite schedule of a connector (GetCompositeSchedule);
// a new Basic-auth password, asked first, which counts once the charger accepts it.

import { t } from "../i18n.js";
import { $, confirmAction, decimal, el, fill, fillRows, onSubmit, say, when } from "../ui.js";

let api;
let current = null;

const path = (suffix) => `/api/admin/chargers/${encodeURIComponent(current)}${suffix}`;

export function init(context) {
  api = context.api;
  onSubmit($("#composite-schedule-form"), $("#composite-schedule-message"), showComposite);
  onSubmit($("#charger-password-form"), $("#charger-password-message"), changePassword);
}

/** Show the cards for the charger `chargePointId` (its page calls this). */
export async function show(chargePointId) {
  current = chargePointId;
  for (const id of ["#charging-profiles-message", "#composite-schedule-message", "#charger-password-message"]) say($(id), "");
  fill($("#composite-schedule"));
  $("#composite-schedule-table").hidden = true;
  $("#charger-password-form").reset();
  await loadProfiles();
}

async function loadProfiles() {
  const profiles = await api.get(path("/charging_profiles"));
  const rows = profiles.map(profileRow);
  fillRows($("#charging-profiles tbody"), rows, t("admin.charger_tools.no_profiles"));
}

// "0 s: 16 A, 3600 s: 10 A": a schedule's periods, each from its start in seconds.
const periodsText = (periods, unit) =>
  periods.map((p) => t("admin.charger_tools.period", { start: p.start_period, limit: decimal(p.limit, 1), unit })).join(", ");

function profileRow(profile) {
  return el("tr", { "data-profile": profile.charging_profile_id },
    el("td", { class: "num", text: String(profile.charging_profile_id) }),
    el("td", { class: "num", text: profile.connector_id === 0 ? t("admin.charger.whole_charger") : String(profile.connector_id) }),
    el("td", { text: profile.purpose }),
    el("td", { class: "num", text: String(profile.stack_level) }),
    el("td", { text: periodsText(profile.periods, profile.charging_rate_unit) }),
    el("td", { text: when(profile.created_at) }),
    el("td", {}, el("button", {
      type: "button", class: "danger", text: t("admin.charger_tools.clear"),
      "aria-label": t("admin.charger_tools.clear_named", { id: profile.charging_profile_id }),
      onclick: () => clearProfile(profile).catch(showProfilesError),
    })));
}

async function clearProfile(profile) {
  const id = profile.charging_profile_id;
  const confirmed = await confirmAction({
    title: t("admin.charger_tools.clear_title", { id, charger: current }),
    text: t("admin.charger_tools.clear_text"),
    confirm: t("admin.charger_tools.clear_confirm"),
  });
  if (!confirmed) {
    say($("#charging-profiles-message"), t("admin.charger.not_sent", { action: "ClearChargingProfile" }));
    return;
  }
  say($("#charging-profiles-message"), t("admin.charger.sending", { action: "ClearChargingProfile" }));
  const answer = await api.delete(path(`/charging_profiles?charging_profile_id=${id}`));
  say($("#charging-profiles-message"), t("admin.charger_tools.answered", { action: "ClearChargingProfile", status: answer.status }),
    { error: answer.status !== "Accepted" });
  await loadProfiles();
}

async function showComposite({ connector_id: connectorId, duration, unit }) {
  const query = new URLSearchParams({ connector_id: connectorId, duration });
  if (unit) query.set("unit", unit);
  say($("#composite-schedule-message"), t("admin.charger.sending", { action: "GetCompositeSchedule" }));
  const answer = await api.get(path(`/composite_schedule?${query}`));
  const schedule = answer.schedule;
  say($("#composite-schedule-message"), schedule
    ? t("admin.charger_tools.composite_from", { start: when(schedule.schedule_start), duration: schedule.duration ?? "–" })
    : t("admin.charger_tools.answered", { action: "GetCompositeSchedule", status: answer.status }),
  { error: answer.status !== "Accepted" });
  $("#composite-schedule-table").hidden = !schedule;
  fill($("#composite-schedule"), ...(schedule ? schedule.periods.map((p) => el("tr", {},
    el("td", { class: "num", text: String(p.start_period) }),
    el("td", { class: "num", text: `${decimal(p.limit, 1)} ${schedule.charging_rate_unit}` }),
    el("td", { class: "num", text: p.number_phases ? String(p.number_phases) : "–" }))) : []));
}

async function changePassword({ password }) {
  const confirmed = await confirmAction({
    title: t("admin.charger_tools.password_title", { charger: current }),
    text: t("admin.charger_tools.password_text"),
    confirm: t("admin.charger_tools.password_confirm"),
  });
  if (!confirmed) {
    say($("#charger-password-message"), t("admin.charger_tools.password_kept"));
    return;
  }
  const answer = await api.post(path("/password"), { password });
  $("#charger-password-form").reset();
  const accepted = ["Accepted", "RebootRequired"].includes(answer.status);
  say($("#charger-password-message"), accepted ? t("admin.charger_tools.password_changed")
    : t("admin.charger_tools.answered", { action: "ChangePassword", status: answer.status }), { error: !accepted });
}

function showProfilesError(error) {
  say($("#charging-profiles-message"), error.message, { error: true });
}
