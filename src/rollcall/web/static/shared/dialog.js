// A modal confirmation before something that cannot be undone.

import { el } from "./dom.js";

/** Resolves true when the person confirms; Escape or Cancel: false. */
export function confirmDialog({
  title,
  text,
  confirm,
  cancel: cancelText = "Cancel",
  danger = true,
}) {
  return new Promise((resolve) => {
    const ok = el("button", {
      class: danger ? "btn btn-danger" : "btn",
      type: "submit",
      value: "ok",
      text: confirm,
    });
    const cancel = el("button", {
      class: "btn btn-secondary",
      type: "submit",
      value: "cancel",
      text: cancelText,
    });
    const dialog = el(
      "dialog",
      { "aria-labelledby": "confirm-title" },
      el(
        "form",
        { method: "dialog" },
        el("h2", { id: "confirm-title", text: title }),
        el("p", { text }),
        el("div", { class: "dialog-actions" }, cancel, ok),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "ok");
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/**
 * A modal with several ways on: resolves the `value` of the choice pressed, or null on Escape or
 * Cancel. `choices`: [{ value, text, danger }], drawn after Cancel in that order.
 */
export function choiceDialog({ title, text, choices, cancel: cancelText = "Cancel" }) {
  return new Promise((resolve) => {
    const cancel = el("button", {
      class: "btn btn-secondary",
      type: "submit",
      value: "",
      text: cancelText,
    });
    const buttons = choices.map((choice) =>
      el("button", {
        class: choice.danger ? "btn btn-danger" : "btn",
        type: "submit",
        value: choice.value,
        text: choice.text,
      }),
    );
    const dialog = el(
      "dialog",
      { "aria-labelledby": "choice-title" },
      el(
        "form",
        { method: "dialog" },
        el("h2", { id: "choice-title", text: title }),
        el("p", { text }),
        el("div", { class: "dialog-actions" }, cancel, ...buttons),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue || null);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
