// One account's page: who it is, its cards, vehicles, budget and recent sessions; block, role and delete.

import { t } from "../i18n.js";
import { $, badge, confirmAction, el, fill, fillRows, kwh, money, say, when } from "../ui.js";
import { stateBadges } from "./transactions.js";
import { activeBadge, blockButton, roleControl } from "./users.js";

const RECENT = 10;
let api;

export function init(context) {
  api = context.api;
}

export async function show({ id }) {
  say($("#user-message"), "");
  await load(Number(id));
}

async function load(id) {
  const user = await api.get(`/api/admin/users/${id}`);
  $("#user-title").textContent = t("admin.user.title", { name: user.username });
  const after = { output: () => $("#user-message"), done: () => load(id) };
  fill($("#user-facts"), ...facts([
    [t("admin.users.username"), user.username],
    ["#", String(user.id)],
    [t("admin.users.role"), roleControl(user, after)],
    [t("admin.users.status"), activeBadge(user)],
    [t("admin.users.since"), when(user.created_at)],
  ]));
  fill($("#user-actions"), blockButton(user, after), deleteButton(user));
  const [cards, vehicles, sessions, budget] = await Promise.all([
    api.page(`/api/admin/id_tags?user_id=${id}`),
    api.get(`/api/admin/users/${id}/vehicles`),
    api.page(`/api/admin/transactions?user_id=${id}&limit=${RECENT}`),
    budgetOf(id),
  ]);
  showCards(cards.items);
  showVehicles(vehicles);
  showSessions(sessions.items);
  showBudget(budget);
}

const facts = (pairs) =>
  pairs.flatMap(([term, value]) => [el("dt", { text: term }), typeof value === "string" ? el("dd", { text: value }) : el("dd", {}, value)]);

async function budgetOf(id) {
  try {
    return await api.get(`/api/admin/users/${id}/budget`);
  } catch (error) {
    if (error.status === 404) return null;  // no budget set
    throw error;
  }
}

function showCards(cards) {
  const rows = cards.map((card) => el("tr", { "data-card": card.id_tag },
    el("td", {}, el("code", { text: card.id_tag })),
    el("td", { text: card.label || "–" }),
    el("td", {}, badge(t(`card_status.${card.status}`, { defaultValue: card.status }), card.status === "Accepted" ? "online" : "offline")),
    el("td", { text: card.expiry_date ? when(card.expiry_date) : "–" })));
  fillRows($("#user-cards tbody"), rows, t("admin.user.no_cards"));
}

function showVehicles(vehicles) {
  const items = vehicles.map((vehicle) => el("li", { "data-vehicle": vehicle.id },
    el("strong", { text: vehicle.name }),
    el("span", { class: "muted", text: ` ${[vehicle.make, vehicle.model, vehicle.plate].filter(Boolean).join(" · ")}` })));
  fill($("#user-vehicles"), ...(items.length ? items : [el("li", { class: "muted", text: t("admin.user.no_vehicles") })]));
}

function showSessions(sessions) {
  const rows = sessions.map((tx) => el("tr", { "data-transaction": tx.id },
    el("td", { class: "num" }, el("a", { href: `#/transactions/${tx.id}`, text: String(tx.id) })),
    el("td", { text: `${tx.charge_point_id} / ${tx.connector_id}` }),
    el("td", { text: when(tx.start_timestamp) }),
    el("td", { class: "num", text: kwh(tx.energy_wh) }),
    el("td", { class: "num", text: money(tx.cost, tx.currency) }),
    el("td", {}, ...stateBadges(tx))));
  fillRows($("#user-sessions tbody"), rows, t("admin.transactions.none"));
}

function showBudget(budget) {
  if (!budget) {
    $("#user-budget").textContent = t("admin.user.no_budget");
    return;
  }
  const limits = [
    budget.max_energy_wh ? kwh(budget.max_energy_wh) : null,
    budget.max_cost ? t("admin.user.budget_cost", { cost: budget.max_cost }) : null,
  ].filter(Boolean);
  $("#user-budget").textContent = t("admin.user.budget", { limits: limits.join(", ") });
}

/** Deleting asks first: the account and its cards go; its charging records stay, no longer linked to anyone. */
function deleteButton(user) {
  const remove = async () => {
    const confirmed = await confirmAction({
      title: t("admin.user.delete_title", { name: user.username }),
      text: t("admin.user.delete_explained"),
      confirm: t("admin.user.delete_confirm"),
    });
    if (!confirmed) return;
    try {
      await api.delete(`/api/admin/users/${user.id}`);
      location.hash = "#/users";
      say($("#users-message"), t("admin.user.deleted", { name: user.username }));
    } catch (error) {
      say($("#user-message"), error.message, { error: true });
    }
  };
  return el("button", { type: "button", class: "secondary", text: t("admin.user.delete"), "aria-label": t("admin.user.delete_named", { name: user.username }), onclick: remove });
}
