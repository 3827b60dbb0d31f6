// The host dashboard, made for a projector: the QR code and the code in large type, live counts,
// the live roster, and the host's controls (score, kick, lock, close).
//
// The host token lives in this browser's localStorage. It can arrive once in the URL fragment
// (#host_token=…, as `rollcall event create` prints it); it is stored and the fragment removed.
// The roster comes from the host WebSocket: a full roster in each non-resumed welcome, then one
// message per change, numbered by `seq`; a reconnect passes the last seq as `since`.

import { api, codeFromPath } from "./api.js";
import { backoffDelay, LiveSocket } from "./live.js";
import { forgetHostToken, hostToken, keepHostToken, remember } from "./hostkeys.js";
import { confirmDialog, connectionPill, el, icon, loadingScreen, messageScreen, show, toast } from "./ui.js";

const code = codeFromPath();
const main = document.getElementById("main");
const controls = document.getElementById("controls");
const titleNode = document.getElementById("event-title");
const badge = document.getElementById("status-badge");
const joinUrl = document.querySelector('meta[name="rollcall-join-url"]').content;

const PRESENCE_TEXT = {
  online: "Online",
  away: "Away",
  offline: "Offline",
  left: "Left",
  kicked: "Removed",
};
const COUNTED = ["online", "away", "offline", "left"];
const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

let token = tokenFromFragment() || hostToken(code);
let event = null;
let seq = null; // the last message seen, for `since` on reconnect
const roster = new Map(); // participant id -> entry
let live = null;
let view = null; // the dashboard's DOM while it shows
let transientAttempt = 0;
let retryTimer = null;

const pill = connectionPill();
const lockButton = el("button", { class: "btn btn-secondary btn-small", type: "button" });
const closeButton = el(
  "button",
  { class: "btn btn-quiet-danger btn-small", type: "button", onclick: closeEvent },
  icon("end"),
  el("span", { text: "End event" }),
);
lockButton.addEventListener("click", toggleLock);
controls.append(pill, lockButton, closeButton);

function tokenFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get("host_token");
  if (!given) return null;
  keepHostToken(code, given);
  history.replaceState(history.state, "", location.pathname + location.search);
  return given;
}

// --- loading

async function start() {
  clearTimeout(retryTimer);
  if (!token) return showNoToken();
  message(loadingScreen("Opening the dashboard…"), { focus: false });
  let participants;
  try {
    [event, { participants }] = await Promise.all([
      api(`/api/events/${encodeURIComponent(code)}`),
      api(`/api/events/${encodeURIComponent(code)}/participants`, { token }),
    ]);
  } catch (error) {
    return failed(error);
  }
  transientAttempt = 0;
  remember(code, event.title);
  replaceRoster(participants);
  renderDashboard();
  if (event.status !== "closed") connect();
}

function failed(error) {
  live?.stop();
  controls.hidden = true;
  if (error.code === "event_not_found") return showUnknown();
  if (error.code === "invalid_token") return showBadToken();
  if (error.transient) {
    retryTimer = setTimeout(start, error.retryAfterS ? error.retryAfterS * 1000 : backoffDelay(transientAttempt));
    transientAttempt += 1;
    return message(
      messageScreen({
        id: "unreachable",
        iconName: "wifiOff",
        tone: "warn",
        title: "Can't reach rollcall",
        lines: ["Trying again by itself…"],
        actions: [el("button", { class: "btn btn-secondary btn-lg", type: "button", text: "Try again now", onclick: start })],
      }),
    );
  }
  message(
    messageScreen({
      id: "error",
      iconName: "alert",
      tone: "danger",
      title: "Something went wrong",
      lines: [error.message],
      actions: [el("button", { class: "btn btn-lg", type: "button", text: "Try again", onclick: start })],
    }),
  );
}

// --- live updates

function connect() {
  live?.stop();
  live = new LiveSocket({
    hello: () => {
      const hello = { type: "hello", role: "host", event: code, token };
      if (seq !== null) hello.since = seq;
      return hello;
    },
    onMessage,
    onStatus: (status) => pill.update(status),
    onFinal,
    finalCodes: [4401, 4403, 4404, 4410],
  });
  live.start();
}

function onMessage(message) {
  if (message.type === "welcome") {
    event = message.event || event;
    if (!message.resumed) {
      replaceRoster(message.participants || []);
      seq = message.seq;
    }
    // Resumed: every message after `since` follows; seq moves with them.
    renderDashboard();
    return;
  }
  if (typeof message.seq !== "number") return;
  if (seq !== null && message.seq <= seq) return; // seen already
  if (seq !== null && message.seq > seq + 1) {
    live.reconnectNow(); // a gap: ask again from the last one seen
    return;
  }
  seq = message.seq;
  apply(message);
}

function apply(message) {
  const entry = roster.get(message.participant_id);
  switch (message.type) {
    case "participant.joined":
    case "participant.rejoined":
      upsert(message.participant);
      break;
    case "participant.presence":
      if (entry && entry.status === "active") entry.presence = message.presence;
      break;
    case "participant.left":
      if (entry) Object.assign(entry, { status: "left", presence: "left" });
      break;
    case "participant.kicked":
      if (entry) Object.assign(entry, { status: "kicked", presence: "kicked" });
      break;
    case "participant.state":
      if (entry && message.version >= entry.version) {
        Object.assign(entry, { state: message.state, version: message.version });
      }
      break;
    case "event.updated":
      event = message.event;
      if (event.status === "closed") live.stop();
      break;
    default:
      return;
  }
  renderDashboard();
}

function onFinal(closeCode) {
  if (closeCode === 4401) return showBadToken();
  if (closeCode === 4404) return showUnknown();
  if (closeCode === 4410) {
    event = { ...event, status: "closed" };
    return renderDashboard();
  }
  failed({ code: "closed", message: "The live connection ended. Reload to open it again.", transient: false });
}

// --- the roster

function replaceRoster(participants) {
  roster.clear();
  for (const participant of participants) upsert(participant);
}

function upsert(participant) {
  const before = roster.get(participant.id);
  const presence = participant.presence || (participant.status === "active" ? "online" : participant.status);
  roster.set(participant.id, { ...before, ...participant, presence });
}

function sortedEntries() {
  const rank = (entry) => (entry.status === "active" ? 0 : entry.status === "left" ? 1 : 2);
  return [...roster.values()].sort(
    (a, b) => rank(a) - rank(b) || collator.compare(a.display_name, b.display_name),
  );
}

function shownScore(entry) {
  if (entry.pendingScore !== undefined) return entry.pendingScore;
  return typeof entry.state?.score === "number" ? entry.state.score : 0;
}

// --- rendering

function message(screen, options) {
  view = null;
  main.dataset.view = "message";
  show(main, screen, options);
}

function renderHeader() {
  titleNode.textContent = event.title;
  document.title = `${event.title} · rollcall`;
  badge.hidden = false;
  badge.className = `badge badge-${event.status}`;
  badge.textContent = { open: "Open", locked: "Locked", closed: "Ended" }[event.status];
  const closed = event.status === "closed";
  controls.hidden = false;
  pill.hidden = closed;
  lockButton.hidden = closed;
  closeButton.hidden = closed;
  const locked = event.status === "locked";
  lockButton.replaceChildren(
    icon(locked ? "unlock" : "lock"),
    el("span", { text: locked ? "Unlock" : "Lock" }),
  );
  lockButton.setAttribute(
    "aria-label",
    locked ? "Unlock: let new people join" : "Lock: only people already in can come back",
  );
}

function buildDashboard() {
  const count = (kind) => {
    const value = el("span", { class: "count-value", "data-testid": `count-${kind}` });
    const item = el(
      "li",
      { class: "card count" },
      el("span", { class: "count-label" }, el("span", { class: "dot", "data-presence": kind, "aria-hidden": "true" }), PRESENCE_TEXT[kind]),
      value,
    );
    return { item, value };
  };
  const counts = Object.fromEntries(COUNTED.map((kind) => [kind, count(kind)]));
  const list = el("ul", { class: "roster", "aria-label": "People", "data-testid": "roster" });
  const emptyTitle = el("strong");
  const emptyText = el("span");
  const empty = el("div", { class: "empty" }, emptyTitle, emptyText);
  const seats = el("span", { class: "seats", "data-testid": "seats" });
  const banner = el(
    "p",
    { class: "closed-banner", role: "status" },
    icon("flag"),
    el("span", { text: "This event has ended. Everyone's session is over; the roster below is final." }),
  );
  const joinPanel = el(
    "section",
    { class: "card join-panel", "aria-labelledby": "join-heading" },
    el("h2", { class: "eyebrow", id: "join-heading", text: "Scan to join" }),
    el("img", {
      class: "qr",
      src: `/api/events/${encodeURIComponent(code)}/qr.svg`,
      alt: `QR code that opens ${joinUrl}`,
      width: "480",
      height: "480",
    }),
    el("p", { class: "code-label", text: "or open" }),
    el("p", { class: "join-url", "data-testid": "join-url" }, ...breakableUrl(joinUrl.replace(/^https?:\/\//, ""))),
    el("p", { class: "code-label", id: "code-label", text: "Event code" }),
    el("p", { class: "event-code", "aria-labelledby": "code-label", "data-testid": "event-code", text: code }),
  );
  const area = el(
    "section",
    { class: "roster-area", "aria-labelledby": "roster-heading" },
    banner,
    el("ul", { class: "counts", "aria-label": "Counts" }, ...COUNTED.map((kind) => counts[kind].item)),
    el("div", { class: "roster-head" }, el("h2", { id: "roster-heading", text: "People" }), seats),
    list,
    empty,
  );
  const screen = document.createDocumentFragment();
  screen.append(joinPanel, area);
  main.dataset.view = "dashboard";
  main.replaceChildren(screen);
  return { counts, list, empty, emptyTitle, emptyText, seats, banner, joinPanel, cards: new Map() };
}

/** The URL as text with line-break chances after each slash, never inside the code. */
function breakableUrl(url) {
  return url.split("/").flatMap((part, index) => (index ? [el("wbr"), `/${part}`] : [part]));
}

function renderDashboard() {
  if (!event) return;
  renderHeader();
  if (!view) view = buildDashboard();
  const closed = event.status === "closed";
  main.dataset.closed = String(closed);
  view.banner.hidden = !closed;
  view.joinPanel.hidden = closed;

  const entries = sortedEntries();
  const tally = { online: 0, away: 0, offline: 0, left: 0 };
  for (const entry of entries) if (entry.presence in tally) tally[entry.presence] += 1;
  for (const kind of COUNTED) view.counts[kind].value.textContent = String(tally[kind]);
  const seated = entries.filter((entry) => entry.status !== "kicked").length;
  view.seats.textContent = `${seated} of ${event.capacity} ${event.capacity === 1 ? "seat" : "seats"} taken`;

  for (const [id, card] of view.cards) {
    if (!roster.has(id)) {
      card.node.remove();
      view.cards.delete(id);
    }
  }
  entries.forEach((entry, index) => {
    let card = view.cards.get(entry.id);
    if (!card) {
      card = buildCard(entry.id);
      view.cards.set(entry.id, card);
    }
    updateCard(card, entry, closed);
    // Move a card only when it is out of place, so focus on its buttons survives updates.
    if (view.list.children[index] !== card.node) view.list.insertBefore(card.node, view.list.children[index] || null);
  });
  view.empty.hidden = entries.length > 0;
  view.emptyTitle.textContent = closed ? "Nobody joined" : "Nobody here yet";
  view.emptyText.textContent = closed
    ? "This event ended before anyone joined."
    : "Names appear here as people join.";
  view.list.hidden = entries.length === 0;
}

function buildCard(id) {
  const dot = el("span", { class: "dot", "aria-hidden": "true" });
  const name = el("span", { class: "person-name" });
  const presence = el("span", { class: "person-presence" });
  const score = el("span", { class: "score", "data-testid": "score" });
  const minus = el("button", { class: "icon-btn", type: "button", text: "−", onclick: () => changeScore(id, -1) });
  const plus = el("button", { class: "icon-btn", type: "button", text: "+", onclick: () => changeScore(id, 1) });
  const kick = el(
    "button",
    { class: "btn btn-small btn-quiet-danger kick", type: "button", onclick: () => kickParticipant(id) },
    icon("x"),
    el("span", { text: "Remove" }),
  );
  const scoreButtons = el("div", { class: "score-buttons", role: "group" }, minus, plus);
  const actions = el("div", { class: "person-actions" }, scoreButtons, kick);
  const node = el(
    "li",
    { class: "card person", "data-participant-id": id },
    dot,
    el("div", { class: "person-who" }, name, presence),
    score,
    actions,
  );
  return { node, dot, name, presence, score, minus, plus, kick, scoreButtons, actions };
}

function updateCard(card, entry, closed) {
  const value = String(shownScore(entry));
  // Big rooms send many messages; touch the DOM only for the card that changed.
  const signature = [entry.presence, entry.status, entry.display_name, value, closed].join("\u0000");
  if (card.signature === signature) return;
  card.signature = signature;
  card.node.dataset.presence = entry.presence;
  card.dot.dataset.presence = entry.presence;
  card.name.textContent = entry.display_name;
  card.name.title = entry.display_name;
  card.presence.textContent = PRESENCE_TEXT[entry.presence] || entry.presence;
  if (card.score.textContent !== value) {
    if (card.score.textContent) {
      card.score.classList.remove("bump");
      void card.score.offsetWidth; // restart the animation
      card.score.classList.add("bump");
    }
    card.score.textContent = value;
  }
  card.actions.hidden = closed || entry.status === "kicked";
  card.scoreButtons.setAttribute("aria-label", `Score of ${entry.display_name}`);
  card.score.setAttribute("aria-label", `${value} ${value === "1" ? "point" : "points"}`);
  card.minus.setAttribute("aria-label", `Take a point from ${entry.display_name}`);
  card.plus.setAttribute("aria-label", `Give ${entry.display_name} a point`);
  card.kick.setAttribute("aria-label", `Remove ${entry.display_name}`);
  card.kick.title = `Remove ${entry.display_name}`;
}

// --- the host's actions

async function changeScore(id, delta) {
  const entry = roster.get(id);
  if (!entry) return;
  const next = shownScore(entry) + delta;
  entry.pendingScore = next;
  entry.inFlight = (entry.inFlight || 0) + 1;
  renderDashboard();
  try {
    const changed = await api(`/api/events/${encodeURIComponent(code)}/participants/${id}`, {
      method: "PATCH",
      body: { state: { score: next } },
      token,
    });
    if (changed.version >= entry.version) Object.assign(entry, { state: changed.state, version: changed.version });
  } catch (error) {
    toast(`Couldn't change the score: ${error.message}`);
  } finally {
    entry.inFlight -= 1;
    if (entry.inFlight === 0) delete entry.pendingScore;
    renderDashboard();
  }
}

async function kickParticipant(id) {
  const entry = roster.get(id);
  if (!entry) return;
  const sure = await confirmDialog({
    title: `Remove ${entry.display_name}?`,
    text: "Their phone leaves the event at once and can't join it again.",
    confirm: "Remove",
  });
  if (!sure) return;
  try {
    const kicked = await api(`/api/events/${encodeURIComponent(code)}/participants/${id}/kick`, {
      method: "POST",
      token,
    });
    upsert({ ...kicked, presence: "kicked" });
    renderDashboard();
    toast(`${entry.display_name} was removed.`);
  } catch (error) {
    toast(`Couldn't remove ${entry.display_name}: ${error.message}`);
  }
}

async function setStatus(status) {
  try {
    event = await api(`/api/events/${encodeURIComponent(code)}`, { method: "PATCH", body: { status }, token });
    if (event.status === "closed") live?.stop();
    renderDashboard();
  } catch (error) {
    toast(`Couldn't change the event: ${error.message}`);
  }
}

function toggleLock() {
  setStatus(event.status === "locked" ? "open" : "locked");
}

async function closeEvent() {
  const sure = await confirmDialog({
    title: "End this event?",
    text: "Everyone's session ends and nobody can join again. This can't be undone.",
    confirm: "End event",
  });
  if (sure) setStatus("closed");
}

// --- screens without a dashboard

function tokenForm() {
  const input = el("input", {
    class: "input",
    id: "host-token",
    type: "password",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
  });
  const form = el(
    "form",
    { class: "form", novalidate: true },
    el("div", { class: "field" }, el("label", { for: "host-token", text: "Host token" }), input),
    el("button", { class: "btn btn-lg btn-block", type: "submit", text: "Open the dashboard" }),
  );
  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    const given = input.value.trim();
    if (!given) return input.focus();
    token = given;
    keepHostToken(code, given);
    start();
  });
  return form;
}

function showNoToken() {
  controls.hidden = true;
  titleNode.textContent = code;
  message(
    messageScreen({
      id: "no-token",
      iconName: "key",
      tone: "warn",
      title: "This browser has no host key for this event",
      lines: [
        el("p", {}, "The dashboard of ", el("strong", { text: code }), " opens with the host token made with the event. It is kept in the browser that created the event, and it comes in the host link that ", el("code", { text: "rollcall event create" }), " prints."),
      ],
      actions: [tokenForm(), el("a", { class: "btn btn-secondary btn-lg", href: "/", text: "Start a new event" })],
    }),
  );
}

function showBadToken() {
  live?.stop();
  forgetHostToken(code);
  token = null;
  controls.hidden = true;
  titleNode.textContent = code;
  message(
    messageScreen({
      id: "bad-token",
      iconName: "key",
      tone: "danger",
      title: "This host key doesn't open this event",
      lines: [el("p", {}, "The key this browser had is not the host token of ", el("strong", { text: code }), ". Paste the right one, or start a new event.")],
      actions: [tokenForm(), el("a", { class: "btn btn-secondary btn-lg", href: "/", text: "Start a new event" })],
    }),
  );
}

function showUnknown() {
  live?.stop();
  controls.hidden = true;
  titleNode.textContent = code;
  message(
    messageScreen({
      id: "unknown",
      iconName: "search",
      tone: "muted",
      title: "No event with this code",
      lines: [el("p", {}, "There is no event ", el("strong", { text: code || "(none)" }), " on this server.")],
      actions: [el("a", { class: "btn btn-lg", href: "/", text: "Start a new event" })],
    }),
  );
}

// Opening the host link in a tab already at /host/CODE changes only the fragment: no new page.
addEventListener("hashchange", () => {
  const given = tokenFromFragment();
  if (given && given !== token) {
    live?.stop();
    token = given;
    start();
  }
});

start();
