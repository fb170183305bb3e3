// The pages' language: i18next (vendored by `make vendor`) with one JSON catalog per language in
// /static/locales/. The language is the user's saved choice, else the first of the browser's languages csms
// has a catalog for, else English. Templates carry data-i18n="key" (and data-i18n-placeholder,
// data-i18n-aria-label, data-i18n-title) with the English text inside as the fallback; scripts call t().
// Dates, numbers and money follow the same language through locale() (ui.js formats with Intl).
//
// Another language: add static/locales/<code>.json with the same keys as en.json (tests/test_web_i18n.py
// checks) and its code and own name to LANGUAGES.

import i18next from "/static/vendor/i18next/i18next.js";

/** The languages csms has a catalog for, each named in itself (a switch shows names the reader can read). */
export const LANGUAGES = { en: "English", ja: "日本語" };
const FALLBACK = "en";
const SAVED = "csms.lang";
const ATTRIBUTES = ["placeholder", "aria-label", "title"];

const listeners = [];

/** The language of the page now: the saved choice, else the browser's, else English. */
export function preferredLanguage() {
  const saved = localStorage.getItem(SAVED);
  if (saved && saved in LANGUAGES) return saved;
  for (const tag of navigator.languages || [navigator.language]) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (primary in LANGUAGES) return primary;
  }
  return FALLBACK;
}

async function catalog(language) {
  const version = document.documentElement.dataset.version || "";
  const response = await fetch(`/static/locales/${language}.json?v=${encodeURIComponent(version)}`);
  if (!response.ok) throw new Error(`The ${language} catalog could not be loaded (${response.status}).`);
  return response.json();
}

/** Load the catalogs, translate the page and bind the language switches (select.language-switch). */
export async function startI18n() {
  const language = preferredLanguage();
  const wanted = [...new Set([FALLBACK, language])];
  const catalogs = await Promise.all(wanted.map(catalog));
  await i18next.init({
    lng: language,
    fallbackLng: FALLBACK,
    supportedLngs: Object.keys(LANGUAGES),
    resources: Object.fromEntries(wanted.map((code, i) => [code, { translation: catalogs[i] }])),
    // Text always goes into the page as text (textContent, attributes), never as HTML.
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  for (const select of document.querySelectorAll("select.language-switch")) {
    select.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) => new Option(name, code, false, code === language)));
    select.addEventListener("change", () => setLanguage(select.value));
  }
  applyLanguage();
}

/** Switch to `language`, remember the choice, and re-translate the page and whatever listens. */
export async function setLanguage(language) {
  if (!(language in LANGUAGES)) return;
  localStorage.setItem(SAVED, language);
  if (!i18next.hasResourceBundle(language, "translation")) {
    i18next.addResourceBundle(language, "translation", await catalog(language));
  }
  await i18next.changeLanguage(language);
  applyLanguage();
  for (const listener of listeners) await listener(language);
}

/** Call `listener(language)` after each switch (a page re-renders what its scripts wrote). */
export function onLanguageChange(listener) {
  listeners.push(listener);
}

function applyLanguage() {
  const language = i18next.language;
  document.documentElement.lang = language;
  for (const select of document.querySelectorAll("select.language-switch")) select.value = language;
  translate(document);
}

/** Translate the data-i18n texts and attributes under `root`; a key the catalogs lack keeps its English. */
export function translate(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n, { defaultValue: node.textContent });
  }
  for (const attribute of ATTRIBUTES) {
    for (const node of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      const key = node.getAttribute(`data-i18n-${attribute}`);
      node.setAttribute(attribute, t(key, { defaultValue: node.getAttribute(attribute) || key }));
    }
  }
}

/** The text of `key` in the active language ({{name}} placeholders filled from `values`). */
export function t(key, values = {}) {
  return i18next.t(key, values);
}

/** The BCP 47 locale that Intl formats dates, numbers and money in: the page's language. */
export function locale() {
  return i18next.language || FALLBACK;
}
