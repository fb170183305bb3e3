// Users: search, each account's page, roles (root only, the server decides) and blocking.

import { t } from "../i18n.js";
import { $, confirmAction, el, fill, onSubmit, pager, say, when } from "../ui.js";

const LIMIT = 20;
const ROLES = ["user", "admin", "root"];
let api;
let query = { q: "", offset: 0 };

export function init(context) {
  api = context.api;
  onSubmit($("#user-search"), $("#users-message"), async ({ q }) => {
    query = { q: q.trim(), offset: 0 };
    await show();
  });
}

export async function show() {
  const params = new URLSearchParams({ limit: LIMIT, offset: query.offset });
  if (query.q) params.set("q", query.q);
  const { items, total } = await api.page(`/api/admin/users?${params}`);
  fill($("#users-table tbody"), ...items.map(userRow));
  pager($("#users-pager"), { offset: query.offset, limit: LIMIT, total, go: (offset) => { query.offset = offset; show(); } });
}

const afterListChange = { output: () => $("#users-message"), done: () => show() };

function userRow(user) {
  return el(
    "tr",
    { "data-user": user.username },
    el("td", { class: "num" }, el("a", { href: `#/users/${user.id}`, text: String(user.id) })),
    el("td", {}, el("a", { href: `#/users/${user.id}`, text: user.username })),
    el("td", {}, roleControl(user, afterListChange)),
    el("td", {}, activeBadge(user)),
    el("td", { text: when(user.created_at) }),
    el("td", {}, blockButton(user, afterListChange)),
  );
}

export const activeBadge = (user) =>
  el("span", { class: `badge ${user.is_active ? "online" : "offline"}`, text: user.is_active ? t("admin.users.active") : t("admin.users.blocked") });

/** A role select that asks before it changes the role; `after` says where to report and what to reload. */
export function roleControl(user, after) {
  const role = el("select", { "aria-label": t("admin.users.role_of", { name: user.username }) },
    ...ROLES.map((name) => el("option", { value: name, text: t(`role.${name}`, { defaultValue: name }), selected: name === user.role })));
  role.addEventListener("change", async () => {
    const question = {
      title: t("admin.users.role_title", { name: user.username, role: t(`role.${role.value}`, { defaultValue: role.value }) }),
      text: t("admin.users.role_explained"),
      confirm: t("admin.users.role_confirm"),
    };
    if (await confirmAction(question)) await update(user, { role: role.value }, after);
    else role.value = user.role;
  });
  return role;
}

export function blockButton(user, after) {
  const name = { name: user.username };
  return el("button", {
    type: "button", class: user.is_active ? "danger" : "secondary", text: user.is_active ? t("admin.users.block") : t("admin.users.unblock"),
    "aria-label": user.is_active ? t("admin.users.block_named", name) : t("admin.users.unblock_named", name),
    onclick: () => setActive(user, !user.is_active, after),
  });
}

/** Blocking asks first (it ends the account's sessions and refuses its cards); unblocking does not. */
async function setActive(user, isActive, after) {
  const question = {
    title: t("admin.users.block_title", { name: user.username }),
    text: t("admin.users.block_explained"),
    confirm: t("admin.users.block_confirm"),
  };
  if (isActive || (await confirmAction(question))) await update(user, { is_active: isActive }, after);
}

async function update(user, changes, after) {
  try {
    await api.patch(`/api/admin/users/${user.id}`, changes);
    say(after.output(), t("admin.users.updated", { name: user.username }));
  } catch (error) {
    say(after.output(), error.message, { error: true });
  }
  await after.done();
}
