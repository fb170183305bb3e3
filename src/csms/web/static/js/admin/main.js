// The operator dashboard: login, routing between views, one live event stream for all of them.

import { Api, EventHub } from "../api.js";
import { $, $$, bindLogin, say, startRouter } from "../ui.js";
import * as charger from "./charger.js";
import * as chargers from "./chargers.js";
import * as overview from "./overview.js";
import * as site from "./site.js";
import * as sites from "./sites.js";
import * as transactions from "./transactions.js";
import * as users from "./users.js";

const STAFF = new Set(["admin", "root"]);
const api = new Api(sessionStorage, "csms.admin.tokens");
const hub = new EventHub(api);
const context = { api, hub };

const routes = [
  { path: "login", view: "login", title: "Log in", public: true, show: () => $("#admin-login input").focus() },
  { path: "overview", view: "overview", title: "Overview", show: overview.show },
  { path: "chargers", view: "chargers", title: "Chargers", show: chargers.show },
  { path: "chargers/:id", view: "charger", title: "Charger", show: charger.show },
  { path: "sites", view: "sites", title: "Sites", show: sites.show },
  { path: "sites/:id", view: "site", title: "Site", show: site.show },
  { path: "users", view: "users", title: "Users", show: users.show },
  { path: "transactions", view: "transactions", title: "Transactions", show: transactions.show },
  { path: "transactions/:id", view: "transaction", title: "Charging session", show: transactions.showOne },
];

function showSession(me) {
  $$("[data-when='logged-in']").forEach((node) => { node.hidden = !me; });
  $("#who").textContent = me ? `${me.username} (${me.role})` : "";
  if (me) hub.start();
  else hub.stop();
}

async function enter() {
  const me = await api.get("/api/me");
  if (!STAFF.has(me.role)) {
    await api.logout();
    throw new Error("This account is not an operator account (needs the role admin or root).");
  }
  showSession(me);
  location.hash = "#/overview";
}

function init() {
  for (const module of [overview, chargers, charger, sites, site, users, transactions]) module.init(context);
  api.onLogout = () => {
    showSession(null);
    location.hash = "#/login";
  };
  bindLogin($("#admin-login"), $("#admin-login-message"), (u, p) => api.login(u, p), enter);
  $("#logout").addEventListener("click", () => api.logout());
  startRouter(routes, {
    fallback: () => (api.isLoggedIn ? "overview" : "login"),
    guard: (route) => (route.public ? !api.isLoggedIn : api.isLoggedIn),
  });
  if (api.isLoggedIn) api.get("/api/me").then(showSession, (error) => say($("#admin-login-message"), error.message, { error: true }));
}

init();
