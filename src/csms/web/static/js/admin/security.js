// Security: the security event log (refused connections, charger-reported events) and the operators' audit log,
// each with its filters and pages. Both logs answer newest first and page by id (`before_id`), without a total.

import { t } from "../i18n.js";
import { $, badge, debounce, el, fill, fillRows, isShown, onSubmit, say, when } from "../ui.js";

const LIMIT = 25;

/** One log on the page: where it reads from, its table, and the rows it makes. */
class LogPart {
  constructor({ path, table, pager, message, row, forbidden }) {
    Object.assign(this, { path, table, pager, message, row, forbidden });
    this.filters = new URLSearchParams();
    this.pages = [null];  // the before_id of each page seen so far; null is the newest page
  }

  filter(fields) {
    const given = Object.entries(fields).map(([name, value]) => [name, value.trim()]).filter(([, value]) => value);
    this.filters = new URLSearchParams(given);
    this.pages = [null];
    return this.show();
  }

  get isNewest() { return this.pages.length === 1; }

  /** Reads the shown page; a role the API refuses is told so in the part rather than failing the view. */
  async show() {
    const query = new URLSearchParams(this.filters);
    query.set("limit", LIMIT + 1);  // one more than shown tells whether there is an older page
    const before = this.pages.at(-1);
    if (before !== null) query.set("before_id", before);
    let found;
    try {
      found = await api.get(`${this.path}?${query}`);
    } catch (error) {
      if (error.status !== 403) throw error;
      this.showForbidden();
      return;
    }
    say($(this.message), "");
    const rows = found.slice(0, LIMIT).map(this.row);
    fillRows($(`${this.table} tbody`), rows, t("common.nothing_found"));
    this.showPager(found.length > LIMIT ? found[LIMIT - 1].id : null);
  }

  showForbidden() {
    say($(this.message), this.forbidden(), { error: true });
    fill($(`${this.table} tbody`));
    fill($(this.pager));
  }

  showPager(olderBefore) {
    const go = (pages) => { this.pages = pages; this.show().catch((error) => say($(this.message), error.message, { error: true })); };
    fill($(this.pager),
      el("span", { class: "muted", text: t("admin.security.page", { page: this.pages.length }) }),
      el("button", { type: "button", class: "secondary", text: t("admin.security.newer"), disabled: this.isNewest, onclick: () => go(this.pages.slice(0, -1)) }),
      el("button", { type: "button", class: "secondary", text: t("admin.security.older"), disabled: olderBefore === null, onclick: () => go([...this.pages, olderBefore]) }));
  }
}

let api;

const events = new LogPart({
  path: "/api/admin/security_events",
  table: "#security-events-table",
  pager: "#security-events-pager",
  message: "#security-events-message",
  forbidden: () => t("admin.security.events_forbidden"),
  row: (event) => el(
    "tr",
    { "data-security-event": event.id },
    el("td", { text: when(event.created_at) }),
    el("td", {}, el("code", { text: event.kind })),
    el("td", {}, event.charge_point_id ? el("a", { href: `#/chargers/${encodeURIComponent(event.charge_point_id)}`, text: event.charge_point_id }) : "–"),
    el("td", { text: t(`admin.security.source_of.${event.source}`, { defaultValue: event.source }) }),
    el("td", { text: event.remote_address || "–" }),
    el("td", { class: "num", text: String(event.count) }),
    el("td", { class: "wrap", text: event.detail || "–" }),
  ),
});

const audit = new LogPart({
  path: "/api/admin/audit_log",
  table: "#audit-table",
  pager: "#audit-pager",
  message: "#audit-message",
  forbidden: () => t("admin.security.audit_forbidden"),
  row: (record) => el(
    "tr",
    { "data-audit": record.id },
    el("td", { text: when(record.created_at) }),
    el("td", { text: record.username ? `${record.username} (${t(`role.${record.role}`, { defaultValue: record.role })}, #${record.user_id})` : "–" }),
    el("td", { class: "wrap" }, el("code", { text: `${record.method} ${record.path}` })),
    el("td", { class: "num" }, badge(String(record.status_code), record.status_code < 400 ? "online" : "offline")),
    el("td", { text: record.remote_address || "–" }),
  ),
});

export function init(context) {
  api = context.api;
  onSubmit($("#security-event-filters"), $("#security-events-message"), (fields) => events.filter(fields));
  onSubmit($("#audit-filters"), $("#audit-message"), (fields) => audit.filter(fields));
  // A charger's SecurityEventNotification arrives live; the newest page shows it at once.
  const sayError = (error) => say($("#security-events-message"), error.message, { error: true });
  const reload = debounce(() => isShown("security") && events.isNewest && events.show().catch(sayError), 1000);
  context.hub.on("security_event", reload);
}

/** Both logs from their newest page, with the filters last asked for. */
export async function show() {
  events.pages = [null];
  audit.pages = [null];
  await Promise.all([events.show(), audit.show()]);
}
