// The pages' languages: message catalogs as JSON files, one per language and page, under
// /static/i18n/<page>/<locale>.json. A message is a string with {placeholders}, or, where a
// number decides the form, an object of plural forms ("zero", "one", "two", "few", "many",
// "other") chosen with Intl.PluralRules. Numbers are formatted with Intl.NumberFormat.

export const LOCALES = ["en", "de", "fr", "es", "it", "pt", "nl", "pl", "ar"];
export const DEFAULT_LOCALE = "en";
const RIGHT_TO_LEFT = new Set(["ar", "he", "fa", "ur"]);
const STORE_KEY = "rollcall.locale";

/** Each language's own name, for the switcher. */
export const LOCALE_NAMES = {
  en: "English",
  de: "Deutsch",
  fr: "Français",
  es: "Español",
  it: "Italiano",
  pt: "Português",
  nl: "Nederlands",
  pl: "Polski",
  ar: "العربية",
};

/** The language to show: the one chosen on this device, else the browser's first we have. */
export function chooseLocale(preferred = navigator.languages ?? [navigator.language]) {
  const stored = readStored();
  if (stored && LOCALES.includes(stored)) return stored;
  for (const tag of preferred) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LOCALES.includes(base)) return base;
  }
  return DEFAULT_LOCALE;
}

function readStored() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null;
  }
}

export function rememberLocale(locale) {
  try {
    localStorage.setItem(STORE_KEY, locale);
  } catch {
    // Private mode: the choice lasts for this page only.
  }
}

export function isRightToLeft(locale) {
  return RIGHT_TO_LEFT.has(locale);
}

async function fetchCatalog(page, locale) {
  const response = await fetch(`/static/i18n/${page}/${locale}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`no ${locale} catalog for ${page}`);
  return response.json();
}

export class Translator {
  constructor(locale, messages, fallback) {
    this.locale = locale;
    this.messages = messages;
    this.fallback = fallback;
    this.plurals = new Intl.PluralRules(locale);
    this.numbers = new Intl.NumberFormat(locale);
  }

  /** The message `key` with its {placeholders} filled; `count` also picks the plural form. */
  t(key, params = {}) {
    let message = this.messages[key] ?? this.fallback[key];
    if (message === undefined) return key;
    if (typeof message === "object") {
      const form = this.plurals.select(Number(params.count ?? 0));
      message = message[form] ?? message.other;
    }
    return message.replace(/\{(\w+)\}/g, (whole, name) => {
      if (!(name in params)) return whole;
      const value = params[name];
      return typeof value === "number" ? this.numbers.format(value) : String(value);
    });
  }

  /** A number as people here write it. */
  n(value) {
    return this.numbers.format(value);
  }
}

/**
 * The translator for a page, in the chosen language (English fills any gap), with the
 * document's lang and dir set to match.
 */
export async function loadTranslator(page, locale = chooseLocale()) {
  const fallback = await fetchCatalog(page, DEFAULT_LOCALE);
  const messages = locale === DEFAULT_LOCALE ? fallback : await fetchCatalog(page, locale);
  document.documentElement.lang = locale;
  document.documentElement.dir = isRightToLeft(locale) ? "rtl" : "ltr";
  return new Translator(locale, messages, fallback);
}

/**
 * Fill the static text of the HTML: `data-i18n="key"` sets an element's text;
 * `data-i18n-attr="aria-label:key; placeholder:key2"` sets attributes.
 */
export function translateDocument(translator, root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = translator.t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of element.dataset.i18nAttr.split(";")) {
      const [attribute, key] = pair.split(":").map((part) => part.trim());
      if (attribute && key) element.setAttribute(attribute, translator.t(key));
    }
  }
}

/**
 * A translator for one part of a page that keeps its own catalog (say, a panel added to a page
 * whose other text is not translated yet): it leaves the document's lang and dir alone.
 */
export async function loadMessages(page, locale = chooseLocale()) {
  const fallback = await fetchCatalog(page, DEFAULT_LOCALE);
  const messages = locale === DEFAULT_LOCALE ? fallback : await fetchCatalog(page, locale);
  return new Translator(locale, messages, fallback);
}
