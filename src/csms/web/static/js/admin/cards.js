// Cards (idTags): find one by its id, label or owner, block or unblock it, remove it, register a new one.

import { t } from "../i18n.js";
import { $, badge, confirmAction, el, fillRows, onSubmit, pager, say, when } from "../ui.js";

const LIMIT = 20;
let api;
let query = { q: "", status: "", offset: 0 };

export function init(context) {
  api = context.api;
  onSubmit($("#card-search"), $("#cards-message"), async ({ q, status }) => {
    query = { q: q.trim(), status, offset: 0 };
    await show();
  });
  onSubmit($("#register-card"), $("#cards-message"), async ({ id_tag: idTag, label, expiry_date: expiry }) => {
    const card = { id_tag: idTag.trim(), label: label.trim() || null };
    if (expiry) card.expiry_date = new Date(`${expiry}T23:59:59`).toISOString();  // to the end of that local day
    await api.post("/api/admin/id_tags", card);
    $("#register-card").reset();
    say($("#cards-message"), t("admin.cards.registered", { id: card.id_tag }));
    query = { q: card.id_tag, status: "", offset: 0 };
    $("#card-search").elements.q.value = card.id_tag;
    await show();
  });
}

export async function show() {
  const params = new URLSearchParams({ limit: LIMIT, offset: query.offset });
  if (query.q) params.set("q", query.q);
  if (query.status) params.set("status", query.status);
  const { items, total } = await api.page(`/api/admin/id_tags?${params}`);
  const rows = items.map(cardRow);
  fillRows($("#cards-table tbody"), rows, t("common.nothing_found"));
  pager($("#cards-pager"), { offset: query.offset, limit: LIMIT, total, go: (offset) => { query.offset = offset; show(); } });
}

function cardRow(card) {
  const blocked = card.status === "Blocked";
  return el(
    "tr",
    { "data-card": card.id_tag },
    el("td", {}, el("code", { text: card.id_tag })),
    el("td", { text: card.label || "–" }),
    el("td", { text: card.username || t("admin.cards.no_owner") }),
    el("td", {}, badge(t(`card_status.${card.status}`, { defaultValue: card.status }), blocked ? "offline" : "online")),
    el("td", { text: card.expiry_date ? when(card.expiry_date) : "–" }),
    el("td", { class: "inline" },
      el("button", {
        type: "button", class: blocked ? "secondary" : "danger", text: blocked ? t("admin.users.unblock") : t("admin.users.block"),
        "aria-label": blocked ? t("admin.cards.unblock_named", { id: card.id_tag }) : t("admin.cards.block_named", { id: card.id_tag }),
        onclick: () => setStatus(card, blocked ? "Accepted" : "Blocked"),
      }),
      el("button", {
        type: "button", class: "secondary", text: t("admin.cards.remove"), "aria-label": t("admin.cards.remove_named", { id: card.id_tag }),
        onclick: () => remove(card),
      })),
  );
}

async function setStatus(card, status) {
  const id = card.id_tag;
  const question = status === "Blocked"
    ? { title: t("admin.cards.block_title", { id }), text: t("admin.cards.block_explained"), confirm: t("admin.cards.block_confirm") }
    : { title: t("admin.cards.unblock_title", { id }), text: t("admin.cards.unblock_explained"), confirm: t("admin.cards.unblock_confirm") };
  const confirmed = await confirmAction(question);
  if (confirmed) await act(() => api.patch(`/api/admin/id_tags/${encodeURIComponent(card.id_tag)}`, { status }), card);
}

async function remove(card) {
  const confirmed = await confirmAction({
    title: t("admin.cards.remove_title", { id: card.id_tag }),
    text: t("admin.cards.remove_explained"),
    confirm: t("admin.cards.remove_confirm"),
  });
  if (confirmed) await act(() => api.delete(`/api/admin/id_tags/${encodeURIComponent(card.id_tag)}`), card);
}

async function act(request, card) {
  try {
    await request();
    say($("#cards-message"), t("admin.cards.updated", { id: card.id_tag }));
  } catch (error) {
    say($("#cards-message"), error.message, { error: true });
  }
  await show();
}
