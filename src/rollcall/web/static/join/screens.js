// The join page's screens for when this phone is not (or not yet, or no longer) in the event,
// by name. Each takes what it shows ({ t, event, code, name }) and what its buttons do
// (`actions`), and is drawn again from them when the language changes. A new screen is one more
// entry here and its keys in the catalogs (static/i18n/join/).

import { button, el } from "../shared/dom.js";
import { messageScreen } from "../shared/screens.js";

/** `t(key)` with `{name}` placeholders filled by nodes (a <strong> code, say) instead of text. */
function withNodes(t, key, nodes) {
  const marker = "\u0000";
  const names = Object.keys(nodes);
  const text = t(key, Object.fromEntries(names.map((name) => [name, `${marker}${name}${marker}`])));
  return text
    .split(marker)
    .map((part, index) => (index % 2 === 1 && part in nodes ? nodes[part] : part));
}

function tryAgain(t, retry) {
  return button(t("retry"), retry);
}

/** Someone already in can still move here from a dead phone: no new seat is taken. */
function moveHere(t, reclaim) {
  return reclaim ? button(t("reclaim.open"), reclaim, "btn btn-secondary btn-lg btn-block") : null;
}

export const SCREENS = {
  kicked: ({ t }) =>
    messageScreen({
      id: "kicked",
      iconName: "ban",
      tone: "danger",
      title: t("kicked.title"),
      lines: [t("kicked.text")],
    }),

  closed: ({ t, event }) =>
    messageScreen({
      id: "closed",
      iconName: "flag",
      tone: "muted",
      title: t("closed.title"),
      lines: [event ? t("closed.text", { title: event.title }) : t("closed.textNoTitle")],
    }),

  locked: ({ t }, { retry, reclaim }) =>
    messageScreen({
      id: "locked",
      iconName: "lock",
      tone: "warn",
      title: t("locked.title"),
      lines: [t("locked.text")],
      actions: [tryAgain(t, retry), moveHere(t, reclaim)],
    }),

  full: ({ t, event }, { retry, reclaim }) =>
    messageScreen({
      id: "full",
      iconName: "users",
      tone: "warn",
      title: t("full.title"),
      lines: [event ? t("full.text", { count: event.capacity }) : t("full.textNoCount")],
      actions: [tryAgain(t, retry), moveHere(t, reclaim)],
    }),

  replaced: ({ t }, { takeOver }) =>
    messageScreen({
      id: "replaced",
      iconName: "tabs",
      title: t("replaced.title"),
      lines: [t("replaced.text")],
      actions: [button(t("replaced.use"), takeOver)],
    }),

  left: ({ t, name }, { joinAgain }) =>
    messageScreen({
      id: "left",
      iconName: "check",
      tone: "muted",
      title: t("left.title"),
      lines: [name ? t("left.text", { name }) : t("left.textNoName")],
      actions: [button(t("left.again"), joinAgain)],
    }),

  revoked: ({ t }, { joinAgain }) =>
    messageScreen({
      id: "revoked",
      iconName: "end",
      tone: "muted",
      title: t("revoked.title"),
      lines: [t("revoked.text")],
      actions: [button(t("left.again"), joinAgain)],
    }),

  waiting: ({ t, name }, { leave }) =>
    messageScreen({
      id: "waiting",
      iconName: "users",
      title: t("waiting.title"),
      lines: [t("waiting.text", { name })],
      actions: [button(t("waiting.cancel"), leave, "btn btn-quiet-danger btn-lg btn-block")],
    }),

  moved: ({ t, event }, { joinNew }) =>
    messageScreen({
      id: "moved",
      iconName: "tabs",
      tone: "muted",
      title: t("moved.title"),
      lines: [event ? t("moved.text", { title: event.title }) : t("moved.textNoTitle")],
      actions: joinNew
        ? [button(t("moved.joinNew"), joinNew, "btn btn-secondary btn-lg btn-block")]
        : [],
    }),

  unknown: ({ t, code }) => {
    const input = el("input", {
      class: "input input-code",
      id: "other-code",
      required: true,
      maxlength: "6",
      autocomplete: "off",
      autocapitalize: "characters",
      spellcheck: "false",
      "aria-label": t("unknown.label"),
      placeholder: t("unknown.placeholder"),
    });
    const form = el(
      "form",
      { class: "join-code-form", novalidate: true },
      input,
      el("button", { class: "btn", type: "submit", text: t("name.submit") }),
    );
    form.addEventListener("submit", (submitEvent) => {
      submitEvent.preventDefault();
      const other = input.value.trim().toUpperCase();
      if (other) location.assign(`/j/${encodeURIComponent(other)}`);
    });
    const shown = el("strong", { class: "code", dir: "ltr", text: code || t("unknown.none") });
    return messageScreen({
      id: "unknown",
      iconName: "search",
      tone: "muted",
      title: t("unknown.title"),
      lines: [el("p", {}, ...withNodes(t, "unknown.text", { code: shown }))],
      actions: [form],
    });
  },

  /** rollcall can't be reached for a moment: the page tries again by itself (`retry`). */
  unreachable: ({ t }, { retry }) =>
    messageScreen({
      id: "unreachable",
      iconName: "wifiOff",
      tone: "warn",
      title: t("unreachable.title"),
      lines: [t("unreachable.text")],
      actions: [button(t("unreachable.now"), retry, "btn btn-secondary btn-lg btn-block")],
    }),

  error: ({ t }, { retry }) =>
    messageScreen({
      id: "error",
      iconName: "alert",
      tone: "danger",
      title: t("error.title"),
      lines: [t("error.text")],
      actions: [tryAgain(t, retry)],
    }),
};
