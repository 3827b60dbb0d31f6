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

/**
 * A modal form: `fields` (nodes: labels and inputs) above Cancel and `confirm`. On a submit,
 * `onSubmit(form)` runs; it resolves to a catalog-free message to show (the dialog stays open,
 * its first field focused) or to nothing (the dialog closes). Resolves true when it closed
 * after a submit, false on Escape or Cancel.
 */
export function formDialog({ title, fields, confirm, cancel: cancelText = "Cancel", onSubmit }) {
  return new Promise((resolve) => {
    const error = el("p", { class: "field-error", role: "alert", hidden: true });
    const ok = el("button", { class: "btn", type: "submit", text: confirm });
    const cancel = el("button", {
      class: "btn btn-secondary",
      type: "button",
      text: cancelText,
      onclick: () => dialog.close(),
    });
    const form = el(
      "form",
      { class: "form dialog-form", novalidate: true },
      el("h2", { id: "form-title", text: title }),
      ...fields,
      error,
      el("div", { class: "dialog-actions" }, cancel, ok),
    );
    const dialog = el("dialog", { "aria-labelledby": "form-title" }, form);
    let done = false;
    form.addEventListener("submit", async (submitEvent) => {
      submitEvent.preventDefault();
      ok.disabled = true;
      const problem = await onSubmit(form);
      ok.disabled = false;
      if (problem) {
        error.textContent = problem;
        error.hidden = false;
        form.querySelector("input, select, textarea")?.focus();
        return;
      }
      done = true;
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(done);
    });
    document.body.append(dialog);
    dialog.showModal();
    form.querySelector("input, select, textarea")?.focus();
  });
}
