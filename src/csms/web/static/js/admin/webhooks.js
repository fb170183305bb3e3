// Webhooks: the endpoints csms posts events to, registering one (its secret shown once), deleting one, and
// one webhook's newest deliveries with their attempts and last answer.

import { t } from "../i18n.js";
import { $, badge, confirmAction, el, fill, fillRows, onSubmit, pollWhileShown, say, when } from "../ui.js";

const DELIVERIES_POLL_MS = 3000;
let api;
let kinds = null;  // what the API accepts, read once
let shownId = null;

export function init(context) {
  api = context.api;
  onSubmit($("#create-webhook"), $("#webhooks-message"), async ({ url }) => {
    const events = [...$("#webhook-kinds").querySelectorAll("input:checked")].map((box) => box.value);
    const created = await api.post("/api/admin/webhooks", { url: url.trim(), events });
    $("#create-webhook").reset();
    $("#webhook-secret-value").textContent = created.secret;
    $("#webhook-secret").hidden = false;
    say($("#webhooks-message"), t("admin.webhooks.registered", { url: created.url }));
    await showList();
  });
  $("#refresh-deliveries").addEventListener("click", () => showDeliveries().catch(sayDeliveryError));
}

export async function show() {
  $("#webhook-secret").hidden = true;
  await Promise.all([showKinds(), showList()]);
}

const kindName = (kind) => t(`admin.webhooks.kind.${kind}`, { defaultValue: kind });

async function eventKinds() {
  kinds ??= await api.get("/api/admin/webhooks/event_kinds");
  return kinds;
}

async function showKinds() {
  const boxes = (await eventKinds()).map((kind) =>
    el("label", { class: "check" },
      el("input", { type: "checkbox", name: "events", value: kind }),
      el("span", { text: kindName(kind) }),
      el("code", { text: kind })));
  fill($("#webhook-kinds"), ...boxes);
}

async function showList() {
  const found = await api.get("/api/admin/webhooks");
  const every = await eventKinds();
  const rows = found.map((webhook) => webhookRow(webhook, every));
  fillRows($("#webhooks-table tbody"), rows, t("admin.webhooks.none"));
}

function eventsText(events, every) {
  if (every.length && every.every((kind) => events.includes(kind))) return t("admin.webhooks.all_events");
  return events.map(kindName).join(", ");
}

function webhookRow(webhook, every) {
  return el(
    "tr",
    { "data-webhook": webhook.id },
    el("td", { class: "wrap" }, el("code", { text: webhook.url })),
    el("td", { text: eventsText(webhook.events, every) }),
    el("td", { text: when(webhook.created_at) }),
    el("td", { class: "inline" },
      el("a", {
        class: "button secondary", href: `#/webhooks/${webhook.id}`, text: t("admin.webhooks.deliveries"),
        "aria-label": t("admin.webhooks.deliveries_named", { url: webhook.url }),
      }),
      el("button", {
        type: "button", class: "danger", text: t("admin.webhooks.delete"),
        "aria-label": t("admin.webhooks.delete_named", { url: webhook.url }),
        onclick: () => remove(webhook),
      })),
  );
}

async function remove(webhook) {
  const confirmed = await confirmAction({
    title: t("admin.webhooks.delete_title", { url: webhook.url }),
    text: t("admin.webhooks.delete_explained"),
    confirm: t("admin.webhooks.delete_confirm"),
  });
  if (!confirmed) return;
  try {
    await api.delete(`/api/admin/webhooks/${webhook.id}`);
    say($("#webhooks-message"), t("admin.webhooks.deleted", { url: webhook.url }));
  } catch (error) {
    say($("#webhooks-message"), error.message, { error: true });
  }
  await showList();
}

/** One webhook (#/webhooks/:id): its facts and newest deliveries, read again every few seconds while shown. */
export async function showOne({ id }) {
  shownId = Number(id);
  say($("#deliveries-message"), "");
  const webhook = (await api.get("/api/admin/webhooks")).find((found) => found.id === shownId);
  if (!webhook) throw new Error(t("admin.webhook.not_found", { id }));
  const every = await eventKinds();
  fill($("#webhook-facts"),
    el("dt", { text: t("admin.webhooks.url") }), el("dd", {}, el("code", { text: webhook.url })),
    el("dt", { text: t("admin.webhooks.events") }), el("dd", { text: eventsText(webhook.events, every) }),
    el("dt", { text: t("admin.webhooks.created") }), el("dd", { text: when(webhook.created_at) }));
  await showDeliveries();
  pollWhileShown("webhook", DELIVERIES_POLL_MS, showDeliveries);
}

async function showDeliveries() {
  const deliveries = await api.get(`/api/admin/webhooks/${shownId}/deliveries`);
  const rows = deliveries.map(deliveryRow);
  fillRows($("#deliveries-table tbody"), rows, t("admin.webhook.none"));
}

function readable(payload) {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}

const sayDeliveryError = (error) => say($("#deliveries-message"), error.message, { error: true });

function deliveryRow(delivery) {
  const lastAnswer = delivery.last_status_code ?? delivery.last_error ?? "–";
  const nextAttempt = delivery.status === "pending" && delivery.next_attempt_at
    ? t("admin.webhook.next_at", { time: when(delivery.next_attempt_at) })
    : "–";
  return el(
    "tr",
    { "data-delivery": delivery.id },
    el("td", {},
      el("details", {},
        el("summary", { text: kindName(delivery.event_kind) }),
        el("pre", { class: "payload", text: readable(delivery.payload) }))),
    el("td", {}, badge(t(`admin.webhook.status_of.${delivery.status}`, { defaultValue: delivery.status }), `delivery-${delivery.status}`)),
    el("td", { class: "num", text: String(delivery.attempts) }),
    el("td", { class: "wrap", text: String(lastAnswer) }),
    el("td", { text: when(delivery.created_at) }),
    el("td", { text: delivery.delivered_at ? when(delivery.delivered_at) : nextAttempt }),
  );
}
