// Sites: chargers behind one grid connection, with the share of the limit csms has allocated; creating a site.

import { t } from "../i18n.js";
import { $, debounce, decimal, el, fillRows, isShown, onSubmit, pollWhileShown, say } from "../ui.js";

// The allocation moves on the allocator's own time (after a start, a stop, a change of draw): pages read it again this often.
export const REFRESH_MS = 3000;

let api;

export const amps = (value) => (value === null || value === undefined ? "–" : `${decimal(Number(value), 1)} A`);

/** "CP1, CP2 ,CP3" → ["CP1", "CP2", "CP3"] */
export const chargerIds = (text) => (text || "").split(",").map((id) => id.trim()).filter(Boolean);

/**
 * A bar of `value` out of `max` (a role="meter"), with what is drawn as a darker bar inside it.
 * kind: "" | "waiting" | "unresponsive" | "over", for the colour; `text` says it in words beside it.
 */
export function meter({ value, max, drawn = null, label, text, kind = "" }) {
  const scale = Math.max(max, value, drawn || 0, 1e-9);
  const width = (amount) => `width: ${Math.min(100, (100 * Math.max(amount, 0)) / scale).toFixed(1)}%`;
  return el(
    "div",
    { class: "meter-row" },
    el(
      "div",
      {
        class: `meter ${kind}`.trim(), role: "meter", "aria-label": label, "aria-valuemin": 0,
        "aria-valuemax": max, "aria-valuenow": value, "aria-valuetext": text,
      },
      el("span", { class: "allotted", style: width(value) }),
      drawn === null || drawn === undefined ? null : el("span", { class: "drawn", style: width(drawn) }),
    ),
    el("span", { class: "meter-text", text }),
  );
}

/** " · 12.0 A drawn", or nothing when the draw is unknown. */
export const drawnText = (value) => (value === null || value === undefined ? "" : ` · ${t("admin.sites.drawn", { current: amps(value) })}`);

/** The site's total: what csms allocated (counting unresponsive chargers at their maximum) against the limit. */
export function siteMeter(site) {
  const drawn = drawnText(site.drawn_a);
  return meter({
    value: site.allocated_a, max: site.limit_in_force_a, drawn: site.drawn_a,
    label: t("admin.sites.meter_label", { name: site.name }), kind: site.allocated_a > site.limit_in_force_a ? "over" : "",
    text: t("admin.sites.meter_text", { allocated: amps(site.allocated_a), limit: amps(site.limit_in_force_a) }) + drawn,
  });
}

export function init(context) {
  api = context.api;
  const reload = debounce(() => isShown("sites") && show(), 500);
  for (const kind of ["open", "transaction_started", "transaction_stopped", "charger_connected", "charger_disconnected"]) {
    context.hub.on(kind, reload);
  }
  onSubmit($("#create-site"), $("#create-site-message"), async (fields) => {
    const body = { name: fields.name.trim(), max_current_a: Number(fields.max_current_a), phases: Number(fields.phases), charge_point_ids: chargerIds(fields.charge_point_ids) };
    const site = await api.post("/api/admin/sites", body);
    $("#create-site").reset();
    say($("#create-site-message"), t("admin.sites.created", { name: site.name }));
    await show();
  });
}

export async function show() {
  await load();
  pollWhileShown("sites", REFRESH_MS, load);
}

async function load() {
  const found = await api.get("/api/admin/sites");
  const rows = found.map(siteRow);
  fillRows($("#sites-table tbody"), rows, t("admin.sites.none"));
}

function siteRow(site) {
  return el(
    "tr",
    { "data-site": site.id },
    el("td", {}, el("a", { href: `#/sites/${site.id}`, text: site.name })),
    el("td", { class: "num", text: amps(site.limit_in_force_a) }),
    el("td", {}, siteMeter(site)),
    el("td", { class: "num", text: String(site.charge_point_ids.length) }),
    el("td", { class: "num", text: String(site.sessions.length) }),
  );
}
