// The operator dashboard: login, routing between views, one live event stream for all of them.

import { Api, EventHub } from "../api.js";
import { onLanguageChange, startI18n, t } from "../i18n.js";
import { $, $$, bindLogin, say, startRouter } from "../ui.js";
import * as cards from "./cards.js";
import * as charger from "./charger.js";
import * as chargers from "./chargers.js";
import * as diagnostics from "./diagnostics.js";
import * as firmware from "./firmware.js";
import * as overview from "./overview.js";
import * as roaming from "./roaming.js";
import * as security from "./security.js";
import * as site from "./site.js";
import * as sites from "./sites.js";
import * as tariffs from "./tariffs.js";
import * as transactions from "./transactions.js";
import * as user from "./user.js";
import * as users from "./users.js";
import * as webhooks from "./webhooks.js";

const STAFF = new Set(["admin", "root"]);
const api = new Api(sessionStorage, "csms.admin.tokens");
const hub = new EventHub(api);
const context = { api, hub };

const routes = [
  { path: "login", view: "login", title: "app.title.login", public: true, show: () => $("#admin-login input").focus() },
  { path: "overview", view: "overview", title: "admin.shell.overview", show: overview.show },
  { path: "chargers", view: "chargers", title: "admin.shell.chargers", show: chargers.show },
  { path: "chargers/:id", view: "charger", title: "admin.charger.charger", show: charger.show },
  { path: "sites", view: "sites", title: "admin.shell.sites", show: sites.show },
  { path: "sites/:id", view: "site", title: "admin.site.site", show: site.show },
  { path: "users", view: "users", title: "admin.shell.users", show: users.show },
  { path: "users/:id", view: "user", title: "admin.user.user", show: user.show },
  { path: "cards", view: "cards", title: "admin.shell.cards", show: cards.show },
  { path: "tariffs", view: "tariffs", title: "admin.shell.tariffs", show: tariffs.show },
  { path: "transactions", view: "transactions", title: "admin.shell.transactions", show: transactions.show },
  { path: "transactions/:id", view: "transaction", title: "admin.transaction.charging_session", show: transactions.showOne },
  { path: "webhooks", view: "webhooks", title: "admin.shell.webhooks", show: webhooks.show },
  { path: "webhooks/:id", view: "webhook", title: "admin.webhook.deliveries", show: webhooks.showOne },
  { path: "security", view: "security", title: "admin.shell.security", show: security.show },
  { path: "firmware", view: "firmware", title: "admin.shell.firmware", show: firmware.show },
  { path: "firmware/rollouts/:id", view: "rollout", title: "admin.rollout.rollout", show: firmware.showRollout },
  { path: "roaming", view: "roaming", title: "admin.roaming.title", show: roaming.show },
];

function showSession(me) {
  $$("[data-when='logged-in']").forEach((node) => { node.hidden = !me; });
  $("#who").textContent = me ? `${me.username} (${t(`role.${me.role}`, { defaultValue: me.role })})` : "";
  signedIn = me;
  if (me) hub.start();
  else hub.stop();
}

async function enter() {
  const me = await api.get("/api/me");
  if (!STAFF.has(me.role)) {
    await api.logout();
    throw new Error(t("admin.login.not_operator"));
  }
  showSession(me);
  location.hash = "#/overview";
}

let signedIn = null;

async function init() {
  await startI18n();
  for (const module of [overview, chargers, charger, diagnostics, sites, site, users, user, cards, tariffs, transactions, webhooks, security, firmware, roaming]) module.init(context);
  api.onLogout = () => {
    showSession(null);
    location.hash = "#/login";
  };
  bindLogin($("#admin-login"), $("#admin-login-message"), (u, p) => api.login(u, p), enter);
  $("#logout").addEventListener("click", () => api.logout());
  const router = startRouter(routes, {
    fallback: () => (api.isLoggedIn ? "overview" : "login"),
    guard: (route) => (route.public ? !api.isLoggedIn : api.isLoggedIn),
  });
  // A switch re-renders what the scripts wrote: the shown view and the signed-in line.
  onLanguageChange(() => {
    if (signedIn) showSession(signedIn);
    return router.render();
  });
  if (api.isLoggedIn) api.get("/api/me").then(showSession, (error) => say($("#admin-login-message"), error.message, { error: true }));
}

init();
