// The join page, where the QR code leads. First visit: ask for a name. Every visit after that:
// join again at once with this device's id (the server gives back the same participant), then
// stay live: all of that is the SDK's (/sdk/rollcall.js); this page shows it, in the reader's
// language.

import { codeFromPath } from "../shared/api.js";
import { chooseLocale, loadTranslator, translateDocument } from "../shared/i18n.js";
import { languageMenu } from "../shared/language.js";
import { backoffDelay } from "../shared/live.js";
import { connectionPill } from "../shared/pill.js";
import { JoinPage } from "./page.js";

const PAGE = "join";

/** The catalogs come from the server that just sent this page; a failure is a moment's. */
async function translatorFor(locale) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await loadTranslator(PAGE, locale);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt)));
    }
  }
}

const code = codeFromPath();
const translator = await translatorFor(chooseLocale());
translateDocument(translator);

const words = {};
const pill = connectionPill(words);
pill.hidden = true;
document.getElementById("connection-slot").append(pill);
document.getElementById("footer-code").textContent = code;
document.getElementById("footer").hidden = false;

const page = new JoinPage({
  code,
  main: document.getElementById("main"),
  pill,
  words,
  translator,
  roomCheck: new URLSearchParams(location.search).get("rc"),
  recover: new URLSearchParams(location.search).get("recover"),
});
page.fillPillWords();

const menu = languageMenu({
  locale: translator.locale,
  label: translator.t("language"),
  onChange: async (locale) => {
    const next = await translatorFor(locale);
    translateDocument(next);
    menu.relabel(next.t("language"));
    page.setTranslator(next);
  },
});
document.getElementById("language-slot").append(menu);

page.start();
