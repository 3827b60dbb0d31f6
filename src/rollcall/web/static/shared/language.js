// The language menu: every language the pages speak, each in its own name. Choosing one keeps
// it on this device (shared/i18n.js) and tells the page, which loads that catalog.

import { el } from "./dom.js";
import { LOCALE_NAMES, LOCALES, rememberLocale } from "./i18n.js";

/** A labelled <select>; `label` is the word "Language" in the page's language. */
export function languageMenu({ locale, label, onChange }) {
  const select = el(
    "select",
    { class: "language-select", id: "language", "data-testid": "language" },
    ...LOCALES.map((code) =>
      el("option", {
        value: code,
        lang: code,
        text: LOCALE_NAMES[code],
        selected: code === locale,
      }),
    ),
  );
  select.addEventListener("change", () => {
    rememberLocale(select.value);
    onChange(select.value);
  });
  const caption = el("label", { for: "language", class: "visually-hidden", text: label });
  const menu = el("div", { class: "language-menu" }, caption, select);
  /** The page changed language: say "Language" in the new one. */
  menu.relabel = (text) => {
    caption.textContent = text;
  };
  return menu;
}
