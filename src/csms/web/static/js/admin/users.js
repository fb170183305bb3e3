// Users: search, roles (root only, the server decides) and blocking.

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

function userRow(user) {
  const role = el("select", { "aria-label": t("admin.users.role_of", { name: user.username }) },
    ...ROLES.map((name) => el("option", { value: name, text: t(`role.${name}`, { defaultValue: name }), selected: name === user.role })));
  role.addEventListener("change", async () => {
    const question = {
      title: t("admin.users.role_title", { name: user.username, role: t(`role.${role.value}`, { defaultValue: role.value }) }),
      text: t("admin.users.role_explained"),
      confirm: t("admin.users.role_confirm"),
    };
    if (await confirmAction(question)) await update(user, { role: role.value });
    else role.value = user.role;
  });
  const blockLabel = user.is_active ? t("admin.users.block") : t("admin.users.unblock");
  return el(
    "tr",
    { "data-user": user.username },
    el("td", { text: user.username }),
    el("td", {}, role),
    el("td", {}, el("span", { class: `badge ${user.is_active ? "online" : "offline"}`, text: user.is_active ? t("admin.users.active") : t("admin.users.blocked") })),
    el("td", { text: when(user.created_at) }),
    el("td", {}, el("button", {
      type: "button", class: user.is_active ? "danger" : "secondary", text: blockLabel,
      "aria-label": user.is_active ? t("admin.users.block_named", { name: user.username }) : t("admin.users.unblock_named", { name: user.username }), onclick: () => setActive(user, !user.is_active),
    })),
  );
}

/** Blocking asks first (it ends the account's sessions and refuses its cards); unblocking does not. */
async function setActive(user, isActive) {
  const question = {
    title: t("admin.users.block_title", { name: user.username }),
    text: t("admin.users.block_explained"),
    confirm: t("admin.users.block_confirm"),
  };
  if (isActive || (await confirmAction(question))) await update(user, { is_active: isActive });
}

async function update(user, changes) {
  try {
    await api.patch(`/api/admin/users/${user.id}`, changes);
    say($("#users-message"), t("admin.users.updated", { name: user.username }));
  } catch (error) {
    say($("#users-message"), error.message, { error: true });
  }
  await show();
}
