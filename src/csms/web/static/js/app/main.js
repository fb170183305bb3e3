// The charging web app: signup and login, then charge, follow the session, history, vehicles and cards.

import { Api, EventHub } from "../api.js";
import { onLanguageChange, startI18n, t } from "../i18n.js";
import { $, $$, bindLogin, startRouter } from "../ui.js";
import * as charge from "./charge.js";
import * as garage from "./garage.js";
import * as history from "./history.js";
import * as reservations from "./reservations.js";
import * as session from "./session.js";

const api = new Api(localStorage, "csms.app.tokens");
const hub = new EventHub(api);
const context = { api, hub };

const routes = [
  { path: "login", view: "login", title: "app.title.login", public: true, show: showLogin },
  { path: "charge", view: "charge", title: "app.charge.title", show: charge.show },
  { path: "session", view: "session", title: "app.session.title", show: session.show },
  { path: "history", view: "history", title: "app.nav.history", show: history.show },
  { path: "history/:id", view: "record", title: "app.record.title", show: history.showOne },
  { path: "garage", view: "garage", title: "app.garage.title", show: garage.show },
];

function showSession(me) {
  $$("[data-when='logged-in']").forEach((node) => { node.hidden = !me; });
  $("#who").textContent = me ? me.username : "";
  if (me) hub.start();
  else hub.stop();
}

async function enter() {
  showSession(await api.get("/api/me"));
  location.hash = "#/charge";
}

/** The login page says where a sticker link will charge, once the driver is in. */
function showLogin() {
  const place = charge.pendingPlace();
  $("#login-pairing").hidden = !place;
  $("#login-pairing").textContent = place ? t("app.login.pairing", { charger: place.charge_point_id, connector: place.connector_id }) : "";
}

/** A sticker's link (/app/pair?cp=...&connector=...&sig=...) opened the app: keep it, and go on at /app. */
function takePairingLink() {
  if (!location.pathname.endsWith("/app/pair")) return;
  charge.pairLater(location.href);
  window.history.replaceState(null, "", `${location.pathname.replace(/\/pair$/, "")}#/charge`);
}

async function init() {
  await startI18n();
  takePairingLink();
  for (const module of [charge, reservations, session, history, garage]) module.init(context);
  api.onLogout = () => {
    showSession(null);
    location.hash = "#/login";
  };
  bindLogin($("#app-login"), $("#app-login-message"), (u, p) => api.login(u, p), enter);
  bindLogin($("#app-signup"), $("#app-signup-message"), (u, p) => api.signup(u, p), enter);
  $("#logout").addEventListener("click", () => api.logout());
  const router = startRouter(routes, {
    fallback: () => (api.isLoggedIn ? "charge" : "login"),
    guard: (route) => (route.public ? !api.isLoggedIn : api.isLoggedIn),
  });
  // A switch re-renders what the scripts wrote: the shown route, the paired connector's card and the reservation.
  onLanguageChange(() => {
    charge.renderPaired();
    reservations.renderHeld();
    return router.render();
  });
  if (api.isLoggedIn) api.get("/api/me").then(showSession, () => {});
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app" }).catch(() => {});
}

init();
