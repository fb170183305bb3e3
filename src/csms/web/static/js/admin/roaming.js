// Roaming (OCPI): the eMSPs and hubs connected to csms, registering one (csms calls it with its versions URL and
// token A, or it calls csms with a token A issued here), suspending or unregistering it; and the locations csms
// publishes to them, with the chargers on each.

import { t } from "../i18n.js";
import { $, $$, badge, confirmAction, el, fillRows, onSubmit, say } from "../ui.js";
import { connectionBadge } from "./chargers.js";

const STATE_BADGE = { REGISTERED: "online", PENDING: "Reserved", SUSPENDED: "offline", UNREGISTERED: "offline" };

let api;

export function init(context) {
  api = context.api;
  onSubmit($("#register-party"), $("#register-party-message"), registerParty);
  onSubmit($("#create-location"), $("#create-location-message"), createLocation);
}

export async function show() {
  $("#issued-token").hidden = true;
  say($("#roaming-message"), "");
  await Promise.all([loadParties(), loadLocations()]);
}

const partyName = (party) => `${party.country_code} ${party.party_id}`;
const stateText = (state) => t(`admin.roaming.states.${state}`, { defaultValue: state });
const chosenChargers = () => $$("#location-chargers tbody input[type=checkbox]").filter((box) => box.checked).map((box) => box.value);

async function loadParties() {
  const parties = await api.get("/api/admin/ocpi/parties");
  const rows = parties.map(partyRow);
  fillRows($("#parties-table tbody"), rows, t("admin.roaming.no_parties"));
}

function partyRow(party) {
  const name = partyName(party);
  const suspended = party.state === "SUSPENDED";
  return el("tr", { "data-party": name },
    el("td", { class: "nowrap" }, el("code", { text: name })),
    el("td", { text: party.business_name || "–" }),
    el("td", { text: party.role }),
    el("td", {}, badge(stateText(party.state), STATE_BADGE[party.state] || "Unknown"),
      party.last_error ? el("p", { class: "muted", text: party.last_error }) : null),
    el("td", { class: "mono", text: party.versions_url || "–" }),
    el("td", { class: "inline" },
      party.state === "REGISTERED" || suspended ? el("button", {
        type: "button", class: suspended ? "secondary" : "danger", text: suspended ? t("admin.roaming.resume") : t("admin.roaming.suspend"),
        "aria-label": suspended ? t("admin.roaming.resume_named", { name }) : t("admin.roaming.suspend_named", { name }),
        onclick: () => (suspended ? resume(party) : suspend(party)),
      }) : null,
      el("button", {
        type: "button", class: "secondary", text: t("admin.roaming.unregister"), "aria-label": t("admin.roaming.unregister_named", { name }),
        onclick: () => unregister(party),
      })));
}

async function registerParty({ country_code: countryCode, party_id: partyId, role, versions_url: versionsUrl, token }) {
  const body = { country_code: countryCode.trim().toUpperCase(), party_id: partyId.trim().toUpperCase(), role };
  if (versionsUrl.trim() || token.trim()) Object.assign(body, { versions_url: versionsUrl.trim(), token: token.trim() });
  const party = await api.post("/api/admin/ocpi/parties", body);
  $("#register-party").reset();
  showIssuedToken(party);
  say($("#register-party-message"), party.token_a
    ? t("admin.roaming.issued_for", { name: partyName(party) })
    : t("admin.roaming.registered", { name: partyName(party) }));
  await loadParties();
}

/** A token A is shown once, with the versions URL the party registers at. */
function showIssuedToken(party) {
  $("#issued-token").hidden = !party.token_a;
  $("#issued-versions-url").textContent = party.csms_versions_url;
  $("#issued-token-a").textContent = party.token_a || "";
}

async function suspend(party) {
  const name = partyName(party);
  const confirmed = await confirmAction({
    title: t("admin.roaming.suspend_title", { name }), text: t("admin.roaming.suspend_explained"), confirm: t("admin.roaming.suspend_confirm"),
  });
  if (confirmed) await act(() => api.post(`/api/admin/ocpi/parties/${party.id}/suspend`), t("admin.roaming.suspended", { name }));
}

async function resume(party) {
  await act(() => api.post(`/api/admin/ocpi/parties/${party.id}/resume`), t("admin.roaming.resumed", { name: partyName(party) }));
}

async function unregister(party) {
  const name = partyName(party);
  const confirmed = await confirmAction({
    title: t("admin.roaming.unregister_title", { name }), text: t("admin.roaming.unregister_explained"), confirm: t("admin.roaming.unregister_confirm"),
  });
  if (!confirmed) return;
  await act(async () => {
    const answer = await api.delete(`/api/admin/ocpi/parties/${party.id}`);
    if (!answer.told_party && answer.error) throw new Error(t("admin.roaming.unregistered_untold", { name, error: answer.error }));
  }, t("admin.roaming.unregistered", { name }));
}

async function act(request, done) {
  try {
    await request();
    say($("#roaming-message"), done);
  } catch (error) {
    say($("#roaming-message"), error.message, { error: true });
  }
  await loadParties();
}

async function loadLocations() {
  const [locations, chargers] = await Promise.all([api.get("/api/admin/ocpi/locations"), api.get("/api/admin/chargers")]);
  const rows = locations.map(locationRow);
  fillRows($("#locations-table tbody"), rows, t("admin.roaming.no_locations"));
  const placeOf = new Map(locations.flatMap((location) => location.charge_point_ids.map((id) => [id, locationName(location)])));
  fillChargerChoice(chargers, placeOf);
}

const locationName = (location) => location.name || location.address;

function locationRow(location) {
  const address = [location.address, [location.postal_code, location.city].filter(Boolean).join(" "), location.country].join(", ");
  return el("tr", { "data-location": location.id },
    el("td", { text: location.name || "–" }),
    el("td", { text: address }),
    el("td", {}, el("span", { class: "connectors" }, ...location.charge_point_ids.map((id) => el("code", { text: id })))),
    el("td", {}, location.publish ? badge(t("admin.roaming.shown"), "online") : badge(t("admin.roaming.hidden"), "offline")),
    el("td", {}, el("button", {
      type: "button", class: "secondary", text: t("admin.roaming.remove"), "aria-label": t("admin.roaming.remove_named", { name: locationName(location) }),
      onclick: () => removeLocation(location),
    })));
}

function fillChargerChoice(chargers, placeOf) {
  const chosen = new Set(chosenChargers());
  const rows = chargers.map((charger) => {
    const id = charger.charge_point_id;
    return el("tr", { "data-location-choice": id },
      el("td", {}, el("input", { type: "checkbox", value: id, checked: chosen.has(id), "aria-label": t("admin.roaming.choose_named", { id }) })),
      el("td", { class: "nowrap" }, el("a", { href: `#/chargers/${encodeURIComponent(id)}`, text: id })),
      el("td", {}, connectionBadge(id, charger.is_connected)),
      el("td", { text: placeOf.get(id) || "–" }));
  });
  fillRows($("#location-chargers tbody"), rows, t("admin.chargers.none"));
}

async function createLocation(fields) {
  const chargePointIds = chosenChargers();
  const body = {
    name: fields.name.trim() || null,
    address: fields.address.trim(),
    city: fields.city.trim(),
    postal_code: fields.postal_code.trim() || null,
    country: fields.country.trim().toUpperCase(),
    latitude: Number(fields.latitude),
    longitude: Number(fields.longitude),
    time_zone: fields.time_zone.trim(),
    publish: fields.publish === "on",
    charge_point_ids: chargePointIds,
  };
  const location = await api.post("/api/admin/ocpi/locations", body);
  $("#create-location").reset();
  $$("#location-chargers tbody input[type=checkbox]").forEach((box) => { box.checked = false; });
  say($("#create-location-message"), t("admin.roaming.location_created", { name: locationName(location), count: chargePointIds.length }));
  await loadLocations();
}

async function removeLocation(location) {
  const name = locationName(location);
  const confirmed = await confirmAction({
    title: t("admin.roaming.remove_title", { name }), text: t("admin.roaming.remove_explained"), confirm: t("admin.roaming.remove_confirm"),
  });
  if (!confirmed) return;
  try {
    await api.delete(`/api/admin/ocpi/locations/${location.id}`);
    say($("#roaming-message"), t("admin.roaming.location_removed", { name }));
  } catch (error) {
    say($("#roaming-message"), error.message, { error: true });
  }
  await loadLocations();
}
