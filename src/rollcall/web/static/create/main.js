// The start page: create an event, keep its host token in this browser, open its dashboard; in
// the visitor's language.

import { api } from "../shared/api.js";
import { el } from "../shared/dom.js";
import { hostedEvents, keepHostToken, markUnsaved } from "../shared/hostkeys.js";
import { chooseLocale, loadTranslator, Translator, translateDocument } from "../shared/i18n.js";
import { languageMenu } from "../shared/language.js";

const CODE_PATTERN = /^[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}$/;
/** Problem codes the page words itself; any other shows the server's own detail. */
const REASONS = {
  network_error: "error.network",
  service_unavailable: "error.unavailable",
  rate_limited: "error.rate_limited",
};

/** The create page's words in `locale`, else in English; with no catalog at all, the keys. */
async function words(locale) {
  for (const tried of new Set([locale, "en"])) {
    try {
      return await loadTranslator("create", tried);
    } catch {
      // the next one
    }
  }
  return new Translator("en", {}, {});
}

// The form works from the start; its words come once the catalog is in (`ready`).
let tr = null;
const ready = words(chooseLocale()).then((loaded) => {
  tr = loaded;
});

const form = document.getElementById("create");
const titleInput = document.getElementById("title");
const capacityInput = document.getElementById("capacity");
const adminField = document.getElementById("admin-field");
const adminInput = document.getElementById("admin-token");
const createError = document.getElementById("create-error");
const submit = form.querySelector("button[type=submit]");
const codeForm = document.getElementById("join-code");
const codeInput = document.getElementById("code");
const codeError = document.getElementById("code-error");

// What each error line says, as a catalog key (or the server's words), so a change of language
// can say it again.
const shown = new Map();

function say(node, key, params = {}) {
  shown.set(node, { key, params });
  node.textContent = key ? message(key, params) : "";
  node.hidden = !key;
}

function message(key, params) {
  return params.detail ?? tr.t(key, params);
}

function showError(node, key, input = null, params = {}) {
  say(node, key, params);
  for (const field of node.closest("section").querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
  }
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-errormessage", node.id);
    input.focus();
  }
}

function translatePage() {
  translateDocument(tr);
  document.title = tr.t("page.title");
  for (const [node, { key, params }] of shown) if (key) node.textContent = message(key, params);
  if (submit.disabled) submit.textContent = tr.t("create.creating");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  await ready;
  const title = titleInput.value.trim();
  if (!title) return showError(createError, "error.name_missing", titleInput);
  const body = { title };
  if (capacityInput.value.trim()) {
    const capacity = Number(capacityInput.value);
    if (!Number.isInteger(capacity) || capacity < 1) {
      return showError(createError, "error.seats", capacityInput);
    }
    body.capacity = capacity;
  }
  showError(createError, null);
  submit.disabled = true;
  submit.textContent = tr.t("create.creating");
  try {
    const created = await api("/api/events", {
      method: "POST",
      body,
      token: adminInput.value.trim() || undefined,
    });
    keepHostToken(created.event.code, created.host_token, created.event.title);
    markUnsaved(created.event.code); // its dashboard offers to copy or save the host link
    location.assign(`/host/${created.event.code}`);
  } catch (error) {
    submit.disabled = false;
    submit.textContent = tr.t("create.submit");
    if (error.code === "invalid_token") {
      adminField.hidden = false;
      const key = adminInput.value ? "error.admin_wrong" : "error.admin_needed";
      showError(createError, key, adminInput);
    } else if (error.code === "validation_error") {
      const field = error.problem.errors?.[0]?.field;
      showError(createError, "error.server", field === "capacity" ? capacityInput : titleInput, {
        detail: error.message,
      });
    } else if (REASONS[error.code]) {
      showError(createError, REASONS[error.code]);
    } else {
      showError(createError, "error.server", null, { detail: error.message });
    }
  }
});

codeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  await ready;
  const code = codeInput.value.trim().toUpperCase();
  if (!CODE_PATTERN.test(code)) return showError(codeError, "error.code", codeInput);
  location.assign(`/j/${code}`);
});

const recent = hostedEvents();
if (recent.length) {
  document
    .getElementById("recent")
    .replaceChildren(
      ...recent.map((item) =>
        el(
          "li",
          {},
          el(
            "a",
            { href: `/host/${item.code}` },
            el("span", { class: "recent-title", text: item.title }),
            el("span", { class: "recent-code", text: item.code, dir: "ltr" }),
          ),
        ),
      ),
    );
  document.getElementById("recent-panel").hidden = false;
}

await ready;
const menu = languageMenu({
  locale: tr.locale,
  label: tr.t("language"),
  onChange: async (locale) => {
    tr = await words(locale);
    menu.relabel(tr.t("language"));
    translatePage();
  },
});
translatePage();
document.getElementById("page-tools").append(menu);
