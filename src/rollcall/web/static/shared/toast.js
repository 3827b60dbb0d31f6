// A short note at the bottom of the screen that hides itself after a few seconds.

import { el } from "./dom.js";

const SHOWN_MS = 4000;

export class Toast {
  #timer = null;

  show(text) {
    let node = document.querySelector(".toast");
    if (!node) {
      node = el("div", { class: "toast", role: "status", "aria-live": "polite" });
      document.body.append(node);
    }
    node.textContent = text;
    node.hidden = false;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      node.hidden = true;
    }, SHOWN_MS);
  }
}
