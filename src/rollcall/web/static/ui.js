// The pages' shared pieces of DOM: elements, icons, the connection pill, toasts, confirmations.
// User text only ever goes in through textContent, never as HTML.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const ICONS = {
  check: '<path d="M5 12.5l4.2 4.2L19 7"/>',
  ban: '<circle cx="12" cy="12" r="9"/><path d="M5.7 5.7l12.6 12.6"/>',
  lock: '<rect x="5" y="10.5" width="14" height="10" rx="2.5"/><path d="M8 10.5V8a4 4 0 0 1 8 0v2.5"/>',
  unlock: '<rect x="5" y="10.5" width="14" height="10" rx="2.5"/><path d="M8 10.5V8a4 4 0 0 1 7.7-1.5"/>',
  users: '<circle cx="9" cy="8.5" r="3.5"/><path d="M2.5 20a6.5 6.5 0 0 1 13 0"/><path d="M16 5.2a3.5 3.5 0 0 1 0 6.6M18 14.2a6.5 6.5 0 0 1 3.5 5.8"/>',
  flag: '<path d="M5 21V4"/><path d="M5 4.5h11l-2 4 2 4H5"/>',
  search: '<circle cx="11" cy="11" r="7"/><path d="M20 20l-4-4"/>',
  key: '<circle cx="8" cy="15" r="4.5"/><path d="M11.2 11.8L20 3M16.5 6.5l2.5 2.5"/>',
  copy: '<rect x="8" y="8" width="12" height="12" rx="2.5"/><path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2"/>',
  x: '<path d="M6 6l12 12M18 6L6 18"/>',
  wifiOff: '<path d="M2 8.8a15 15 0 0 1 4.2-2.6M10 5.1A15 15 0 0 1 22 8.8M5 12.6a10 10 0 0 1 3.6-2.2M15 10.5a10 10 0 0 1 4 2.1M8.5 16.1a5 5 0 0 1 7 0"/><path d="M3 3l18 18"/><circle cx="12" cy="20" r=".6"/>',
  tabs: '<rect x="3" y="6" width="14" height="14" rx="2.5"/><path d="M7 3h11.5A2.5 2.5 0 0 1 21 5.5V17"/>',
  end: '<circle cx="12" cy="12" r="9"/><path d="M9.5 9.5h5v5h-5z"/>',
  alert: '<path d="M12 3.5l9.5 16.5h-19z"/><path d="M12 10v4.5M12 17.3v.2"/>',
};

export function icon(name, className = "icon") {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className);
  svg.innerHTML = ICONS[name]; // our own constant markup, never user text
  return svg;
}

/** A centred message: an icon, a heading, a line or two, and optional actions. */
export function messageScreen({ id, iconName, tone, title, lines = [], actions = [] }) {
  const heading = el("h2", { text: title, tabindex: "-1" });
  const screen = el(
    "section",
    { class: "screen", "data-screen": id, "aria-labelledby": `${id}-title` },
    iconName ? el("div", { class: "screen-icon", "data-tone": tone }, icon(iconName)) : null,
    heading,
    ...lines.map((line) => (typeof line === "string" ? el("p", { text: line }) : line)),
    actions.length ? el("div", { class: "actions" }, ...actions) : null,
  );
  heading.id = `${id}-title`;
  return screen;
}

export function loadingScreen(text) {
  return el(
    "section",
    { class: "screen", "data-screen": "loading", "aria-busy": "true" },
    el("div", { class: "spinner", role: "presentation" }),
    el("p", { role: "status", text }),
  );
}

/** Swap what `main` shows and move focus to the new heading, so screen readers hear it. */
export function show(main, screen, { focus = true } = {}) {
  main.replaceChildren(screen);
  if (focus) {
    const target = screen.querySelector("h2[tabindex='-1']");
    if (target) target.focus({ preventScroll: true });
  }
}

const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

export function connectionPill() {
  const label = el("span", { class: "connection-label", text: STATUS_TEXT.connecting });
  const pill = el(
    "div",
    { class: "connection", "data-status": "connecting", role: "status", "data-testid": "connection" },
    el("span", { class: "dot", "aria-hidden": "true" }),
    label,
  );
  pill.update = (status) => {
    pill.dataset.status = status;
    label.textContent = STATUS_TEXT[status] || status;
  };
  return pill;
}

let toastTimer = null;

export function toast(text) {
  let node = document.querySelector(".toast");
  if (!node) {
    node = el("div", { class: "toast", role: "status", "aria-live": "polite" });
    document.body.append(node);
  }
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    node.hidden = true;
  }, 4000);
}

/** A modal confirmation; resolves true when the person confirms. Escape or Cancel: false. */
export function confirmDialog({ title, text, confirm, danger = true }) {
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
      text: "Cancel",
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

export function initials(name) {
  const words = name.trim().split(/\s+/u).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((word) => Array.from(word)[0] || "").join("") || "?";
}

/** A stable colour per name, dark enough for white initials (AA for large text). */
export function avatarColour(name) {
  const hues = ["#4338ca", "#0f766e", "#b45309", "#be185d", "#1d4ed8", "#7e22ce", "#15803d", "#c2410c"];
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return hues[hash % hues.length];
}
