// The host link (/host/CODE#host_token=…): the way to open this dashboard in another browser. It
// is a secret, so it is never shown in clear unless asked: the host copies it or saves it to a
// file. An event made on the start page offers this once, in a notice above the roster.

import { el, saveFile } from "../shared/dom.js";
import { markSaved } from "../shared/hostkeys.js";
import { icon } from "../shared/icons.js";

export function hostLink(code, token) {
  return `${location.origin}/host/${encodeURIComponent(code)}#host_token=${encodeURIComponent(token)}`;
}

/** Copy `text`: the Clipboard API where there is one (https, localhost), else a selection. */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // A plain-http LAN address has no Clipboard API; copying a selection still works on a click.
    const area = el("textarea", {
      class: "visually-hidden",
      readonly: true,
      "aria-hidden": "true",
    });
    area.value = text;
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    return copied;
  }
}

/** What the host can do with the link; each says how it went in a toast. */
export class HostLinkActions {
  constructor({ tr, code, title, token, toast }) {
    Object.assign(this, { tr, code, title, token, toast });
  }

  get link() {
    return hostLink(this.code, this.token);
  }

  async copy() {
    const copied = await copyText(this.link);
    this.toast.show(this.tr.t(copied ? "hostlink.copied" : "hostlink.copy_failed"));
    if (copied) markSaved(this.code);
    return copied;
  }

  save() {
    const { tr } = this;
    const text = [
      tr.t("hostlink.file_heading", { title: this.title, code: this.code }),
      tr.t("hostlink.warning"),
      "",
      this.link,
      "",
    ].join("\n");
    saveFile(`rollcall-host-${this.code}.txt`, text);
    markSaved(this.code);
    this.toast.show(tr.t("hostlink.saved"));
  }
}

function actionButtons(actions, after = () => {}) {
  return [
    el(
      "button",
      {
        class: "btn btn-small",
        type: "button",
        onclick: async () => {
          if (await actions.copy()) after();
        },
      },
      icon("copy"),
      el("span", { text: actions.tr.t("hostlink.copy") }),
    ),
    el(
      "button",
      {
        class: "btn btn-secondary btn-small",
        type: "button",
        onclick: () => {
          actions.save();
          after();
        },
      },
      icon("download"),
      el("span", { text: actions.tr.t("hostlink.save") }),
    ),
  ];
}

/** The notice an event made on this browser shows until its link is copied, saved or waved off. */
export function hostLinkNotice(actions, onDone) {
  const { tr } = actions;
  const done = () => {
    markSaved(actions.code);
    notice.remove();
    onDone();
  };
  const notice = el(
    "section",
    {
      class: "hostlink-notice",
      "aria-labelledby": "hostlink-notice-title",
      "data-testid": "hostlink-notice",
    },
    el("div", { class: "hostlink-icon" }, icon("key")),
    el(
      "div",
      { class: "hostlink-text" },
      el("h3", { id: "hostlink-notice-title", text: tr.t("hostlink.notice_title") }),
      el("p", { text: tr.t("hostlink.notice_text") }),
    ),
    el(
      "div",
      { class: "hostlink-actions" },
      ...actionButtons(actions, done),
      el("button", {
        class: "btn btn-secondary btn-small",
        type: "button",
        text: tr.t("hostlink.dismiss"),
        onclick: done,
      }),
    ),
  );
  return notice;
}

/** The dialog behind the top bar's "Host link" button. */
export function hostLinkDialog(actions) {
  const { tr } = actions;
  const field = el("input", {
    class: "input hostlink-field",
    id: "hostlink-field",
    type: "password",
    readonly: true,
    dir: "ltr",
    autocomplete: "off",
  });
  field.value = actions.link;
  const reveal = el("button", {
    class: "btn btn-secondary btn-small",
    type: "button",
    "aria-pressed": "false",
    "aria-controls": "hostlink-field",
    text: tr.t("hostlink.show"),
    onclick: () => {
      const shown = field.type === "password";
      field.type = shown ? "text" : "password";
      reveal.setAttribute("aria-pressed", String(shown));
    },
  });
  const close = el("button", {
    class: "btn btn-secondary",
    type: "submit",
    value: "close",
    text: tr.t("hostlink.close"),
  });
  const dialog = el(
    "dialog",
    {
      class: "hostlink-dialog",
      "aria-labelledby": "hostlink-title",
      "aria-describedby": "hostlink-warning",
    },
    el(
      "form",
      { method: "dialog" },
      el("h2", { id: "hostlink-title", text: tr.t("hostlink.title") }),
      el(
        "p",
        { id: "hostlink-warning", class: "hostlink-warning" },
        icon("alert"),
        el("span", { text: tr.t("hostlink.warning") }),
      ),
      el(
        "div",
        { class: "field" },
        el("label", { for: "hostlink-field", text: tr.t("hostlink.label") }),
        el("div", { class: "hostlink-row" }, field, reveal),
      ),
      el("div", { class: "dialog-actions" }, ...actionButtons(actions), close),
    ),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
  return dialog;
}
