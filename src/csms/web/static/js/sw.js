// The app's service worker: the shell and its assets open without a network; the API is never cached.
const CACHE = "csms-app-__VERSION__";
const SHELL = [
  "/app",
  "/app/manifest.webmanifest",
  "/static/csms.css",
  "/static/icons/icon.svg",
  "/static/js/api.js",
  "/static/js/ui.js",
  "/static/js/i18n.js",
  "/static/locales/en.json",
  "/static/locales/ja.json",
  "/static/vendor/i18next/i18next.js",
  "/static/js/chart.js",
  "/static/js/transaction.js",
  "/static/js/app/main.js",
  "/static/js/app/charge.js",
  "/static/js/app/qr_reader.js",
  "/static/js/app/session.js",
  "/static/js/app/history.js",
  "/static/js/app/garage.js",
  "/static/js/app/reservations.js",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  const stale = (keys) => keys.filter((key) => key !== CACHE).map((key) => caches.delete(key));
  event.waitUntil(caches.keys().then((keys) => Promise.all(stale(keys))).then(() => self.clients.claim()));
});

// Network first, so a new csms version shows at once; the cache answers only when offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const isShell = url.pathname === "/app" || url.pathname.startsWith("/app/") || url.pathname.startsWith("/static/");
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !isShell) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request, { ignoreSearch: true })),
  );
});
