// The join page, where the QR code leads. First visit: ask for a name. Every visit after that:
// join again at once with this device's id (the server gives back the same participant), then
// stay live over /ws: heartbeats, away/back, reconnects, and the state the host sets.

import { api, codeFromPath } from "./api.js";
import { device } from "./device.js";
import { backoffDelay, LiveSocket } from "./live.js";
import {
  avatarColour,
  connectionPill,
  el,
  icon,
  initials,
  loadingScreen,
  messageScreen,
  show,
} from "./ui.js";

const code = codeFromPath();
const main = document.getElementById("main");
const { id: deviceId, isNew: newDevice } = device();
const RECORD_KEY = `rollcall.joined.${code}`;
const REBIND_GUARD_MS = 15000;

const pill = connectionPill();
pill.hidden = true;
document.getElementById("connection-slot").append(pill);
document.getElementById("footer-code").textContent = code;
document.getElementById("footer").hidden = false;

let me = null; // the participant, as the server last described it
let event = null;
let live = null;
let joined = null; // the DOM of the "you're in" screen while it shows
let retryTimer = null;
let transientAttempt = 0;
let lastRebindAt = 0;

// --- what this browser remembers about this event: only the name it joined with

function record() {
  try {
    return JSON.parse(localStorage.getItem(RECORD_KEY) || "null");
  } catch {
    return null;
  }
}

function remember(participant) {
  try {
    localStorage.setItem(RECORD_KEY, JSON.stringify({ name: participant.display_name }));
  } catch {
    // Without storage the session cookie still brings this phone back.
  }
}

// --- getting in

async function start() {
  clearTimeout(retryTimer);
  const known = record();
  if (known?.name) return join(known.name);
  if (!newDevice) {
    // Nothing remembered for this event, but the session cookie may still belong to it.
    try {
      const session = await api("/api/session");
      if (session.event.code === code && session.participant.status === "active") {
        return join(session.participant.display_name);
      }
    } catch {
      // No session, or another event's: a first visit here.
    }
  }
  try {
    event = await api(`/api/events/${encodeURIComponent(code)}`);
  } catch (error) {
    return failed(error, start);
  }
  setTitle();
  if (event.status === "closed") return showClosed();
  if (event.status === "locked") return showLocked(start);
  if (event.counts.seats_taken >= event.capacity) return showFull(start);
  transientAttempt = 0;
  showNameForm();
}

async function join(name, { form = null } = {}) {
  clearTimeout(retryTimer);
  if (!form) {
    joined = null;
    show(main, loadingScreen("Getting you in…"), { focus: false });
  }
  let answer;
  try {
    answer = await api(`/api/events/${encodeURIComponent(code)}/join`, {
      method: "POST",
      body: { device_id: deviceId, display_name: name },
    });
  } catch (error) {
    if (error.code === "name_taken" || error.code === "validation_error") {
      if (form) return form.refuse(nameProblem(error, name));
      if (!event) event = await api(`/api/events/${encodeURIComponent(code)}`).catch(() => null);
      return showNameForm({ name, problem: nameProblem(error, name) });
    }
    return failed(error, () => join(name));
  }
  transientAttempt = 0;
  me = answer.participant;
  remember(me);
  renderJoined();
  if (!event) {
    // The join answer has no event; its title fills in when this (or the welcome) comes back.
    api(`/api/events/${encodeURIComponent(code)}`)
      .then((described) => {
        event = event || described;
        renderJoined();
      })
      .catch(() => {});
  }
  connect(answer.heartbeat_interval_s);
}

function nameProblem(error, name) {
  if (error.code === "name_taken") {
    return `Someone here already goes by “${name.trim()}”. Pick another name.`;
  }
  const message = error.problem.errors?.[0]?.message;
  return message ? `That name won't work: ${message}.` : "That name won't work. Try another.";
}

function failed(error, retry) {
  live?.stop();
  pill.hidden = true;
  joined = null;
  switch (error.code) {
    case "event_not_found":
      return showUnknown();
    case "event_closed":
      return showClosed();
    case "device_banned":
      return showKicked();
    case "event_locked":
      return showLocked(retry);
    case "event_full":
      return showFull(retry);
    default:
      if (error.transient) return showUnreachable(error, retry);
      return show(
        main,
        messageScreen({
          id: "error",
          iconName: "alert",
          tone: "danger",
          title: "Something went wrong",
          lines: [error.message],
          actions: [button("Try again", retry)],
        }),
      );
  }
}

// --- live

function connect(heartbeatS) {
  live?.stop();
  live = new LiveSocket({
    // The session cookie from the join answer comes with the upgrade, so no token here.
    hello: () => ({ type: "hello" }),
    onMessage,
    onStatus: (status) => {
      pill.update(status);
      if (joined) renderJoined();
    },
    onFinal,
  });
  pill.hidden = false;
  live.start();
  live.beatEvery(heartbeatS);
}

function onMessage(message) {
  switch (message.type) {
    case "welcome":
      if (me && message.participant.id !== me.id) {
        // The cookie is one per browser: another tab joined another event since. Bind it back.
        return rebind();
      }
      me = message.participant;
      event = message.event;
      if (message.heartbeat_interval_s) live.beatEvery(message.heartbeat_interval_s);
      if (document.visibilityState === "hidden") live.send({ type: "away" });
      renderJoined();
      break;
    case "state":
      if (me && message.version >= me.version) {
        me = { ...me, state: message.state, version: message.version };
        renderJoined();
      }
      break;
    case "event":
      event = message.event;
      if (event.status === "closed") {
        live.stop();
        showClosed();
      } else {
        renderJoined();
      }
      break;
    case "kicked":
      live.stop();
      showKicked();
      break;
    case "replaced":
      live.stop();
      showReplaced();
      break;
    default:
      break;
  }
}

function onFinal(closeCode) {
  pill.hidden = true;
  if (closeCode === 4403) return showKicked();
  if (closeCode === 4410) return showClosed();
  if (closeCode === 4409) return showReplaced();
  // 4401: this token was revoked, most likely by a join from another tab. Join again once; the
  // answer says whether this phone is still in.
  return rebind();
}

function rebind() {
  live?.stop();
  if (Date.now() - lastRebindAt < REBIND_GUARD_MS || !me) return showReplaced();
  lastRebindAt = Date.now();
  join(me.display_name);
}

document.addEventListener("visibilitychange", () => {
  if (!live || live.stopped) return;
  if (document.visibilityState === "hidden") {
    live.send({ type: "away" });
  } else if (!live.send({ type: "back" })) {
    live.reconnectNow();
  }
});

addEventListener("pagehide", () => {
  if (!live || live.stopped) return;
  // The socket may not get its goodbye out; a beacon does, and says the page went away.
  const body = new Blob([JSON.stringify({ away: true })], { type: "application/json" });
  navigator.sendBeacon("/api/session/heartbeat", body);
});

addEventListener("pageshow", (pageEvent) => {
  if (pageEvent.persisted && live && !live.stopped) live.reconnectNow();
});

// --- screens

function setTitle() {
  document.title = event ? `${event.title} · rollcall` : "Join · rollcall";
}

function button(text, onclick, className = "btn btn-lg btn-block") {
  return el("button", { class: className, type: "button", text, onclick });
}

function intro(kicker) {
  return el(
    "div",
    { class: "event-intro" },
    el("p", { class: "eyebrow", text: kicker }),
    el("h2", { id: "event-title", text: event ? event.title : code, tabindex: "-1" }),
  );
}

function showNameForm({ name = "", problem = "" } = {}) {
  joined = null;
  const input = el("input", {
    class: "input",
    id: "name",
    name: "name",
    required: true,
    maxlength: "32",
    autocomplete: "nickname",
    autocapitalize: "words",
    enterkeyhint: "go",
    spellcheck: "false",
    "aria-describedby": "name-hint",
  });
  input.value = name;
  const error = el("p", { class: "field-error", id: "name-error", role: "alert", hidden: true });
  const submit = el("button", { class: "btn btn-lg btn-block", type: "submit", text: "Join" });
  const form = el(
    "form",
    { class: "form", novalidate: true },
    el(
      "div",
      { class: "field" },
      el("label", { for: "name", text: "Your name" }),
      input,
      el("p", { class: "hint", id: "name-hint", text: "This is how the host will see you." }),
    ),
    error,
    submit,
  );
  form.refuse = (text) => {
    submit.disabled = false;
    submit.textContent = "Join";
    error.textContent = text;
    error.hidden = !text;
    if (text) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-errormessage", "name-error");
      input.focus();
      input.select();
    } else {
      input.removeAttribute("aria-invalid");
    }
  };
  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    const value = input.value.trim();
    if (!value) return form.refuse("Type the name you want to go by.");
    form.refuse("");
    submit.disabled = true;
    submit.textContent = "Joining…";
    join(value, { form });
  });
  show(
    main,
    el(
      "section",
      { "data-screen": "name", "aria-labelledby": "event-title" },
      intro("You're joining"),
      el("div", { class: "card join-card" }, form),
      el("p", {
        class: "phone-note",
        text: "One phone is one player: reload, lose your signal or scan again, and you're back as yourself.",
      }),
    ),
    { focus: false },
  );
  if (problem) form.refuse(problem);
  else input.focus();
}

function renderJoined() {
  if (!me) return;
  setTitle();
  if (!joined) {
    const avatar = el("div", { class: "avatar", "aria-hidden": "true" });
    const name = el("span", { class: "me-name" });
    const score = el("span", { class: "score-value", "data-testid": "score" });
    const details = el("dl", { class: "card state-list", hidden: true });
    const heading = el(
      "h2",
      { tabindex: "-1", id: "me-title" },
      el("span", { class: "me-kicker", text: "You're in as " }),
      name,
    );
    const title = el("p", { class: "eyebrow" });
    const check = el("p", { class: "in-check" });
    const note = el("p", { class: "phone-note" });
    const screen = el(
      "section",
      { "data-screen": "joined", "aria-labelledby": "me-title" },
      el("div", { class: "event-intro" }, title),
      el(
        "div",
        { class: "card me" },
        avatar,
        heading,
        check,
      ),
      el(
        "div",
        { class: "card score-card", role: "group", "aria-label": "Score" },
        el("span", { class: "eyebrow", text: "Score" }),
        el("output", { "aria-live": "polite" }, score),
      ),
      details,
      note,
    );
    joined = { screen, avatar, name, score, details, title, note, check, checkStatus: null };
    show(main, screen);
  }
  joined.avatar.textContent = initials(me.display_name);
  joined.avatar.style.background = avatarColour(me.display_name);
  joined.name.textContent = me.display_name;
  joined.title.textContent = event ? event.title : code;
  const status = live?.status === "connected" ? "connected" : "waiting";
  if (joined.checkStatus !== status) {
    joined.checkStatus = status;
    joined.check.dataset.status = status;
    joined.check.replaceChildren(
      ...(status === "connected"
        ? [icon("check"), el("span", { text: "You're on the host's screen" })]
        : [el("span", { text: "Your place is kept while you reconnect" })]),
    );
  }
  const shownScore = String(typeof me.state?.score === "number" ? me.state.score : 0);
  if (joined.score.textContent !== shownScore) {
    if (joined.score.textContent) {
      joined.score.classList.remove("bump");
      void joined.score.offsetWidth; // restart the animation
      joined.score.classList.add("bump");
    }
    joined.score.textContent = shownScore;
  }
  const others = Object.entries(me.state || {}).filter(([key]) => key !== "score");
  joined.details.hidden = others.length === 0;
  joined.details.replaceChildren(
    ...others.flatMap(([key, value]) => [
      el("dt", { text: key.replaceAll("_", " ") }),
      el("dd", { text: typeof value === "string" ? value : JSON.stringify(value) }),
    ]),
  );
  joined.note.textContent = `Keep this page open${event ? ` during ${event.title}` : ""}. If it closes, scan the code again: you'll be back as ${me.display_name}.`;
}

function showKicked() {
  pill.hidden = true;
  joined = null;
  show(
    main,
    messageScreen({
      id: "kicked",
      iconName: "ban",
      tone: "danger",
      title: "You were removed from this event",
      lines: ["The host removed you, so this phone can't join this event again."],
    }),
  );
}

function showClosed() {
  pill.hidden = true;
  joined = null;
  show(
    main,
    messageScreen({
      id: "closed",
      iconName: "flag",
      tone: "muted",
      title: "This event has ended",
      lines: [
        event ? `${event.title} is over. Thanks for taking part!` : "Thanks for taking part!",
      ],
    }),
  );
}

function showLocked(retry) {
  show(
    main,
    messageScreen({
      id: "locked",
      iconName: "lock",
      tone: "warn",
      title: "This event is locked",
      lines: ["The host isn't letting new people in right now. Ask them to unlock it, then try again."],
      actions: [button("Try again", retry)],
    }),
  );
}

function showFull(retry) {
  show(
    main,
    messageScreen({
      id: "full",
      iconName: "users",
      tone: "warn",
      title: "This event is full",
      lines: [
        event
          ? `All ${event.capacity} seats are taken. Ask the host to make room, then try again.`
          : "Every seat is taken. Ask the host to make room, then try again.",
      ],
      actions: [button("Try again", retry)],
    }),
  );
}

function showReplaced() {
  pill.hidden = true;
  joined = null;
  show(
    main,
    messageScreen({
      id: "replaced",
      iconName: "tabs",
      title: "Open in another tab",
      lines: ["This phone is in the event from another tab or window. Carry on there, or use this one."],
      actions: [
        button("Use this tab", () => {
          lastRebindAt = Date.now();
          join(me ? me.display_name : record()?.name || "");
        }),
      ],
    }),
  );
}

function showUnknown() {
  const input = el("input", {
    class: "input input-code",
    id: "other-code",
    required: true,
    maxlength: "6",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    "aria-label": "Event code",
    placeholder: "CODE",
  });
  const form = el(
    "form",
    { class: "join-code-form", novalidate: true },
    input,
    el("button", { class: "btn", type: "submit", text: "Join" }),
  );
  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    const other = input.value.trim().toUpperCase();
    if (other) location.assign(`/j/${encodeURIComponent(other)}`);
  });
  show(
    main,
    messageScreen({
      id: "unknown",
      iconName: "search",
      tone: "muted",
      title: "No event with this code",
      lines: [
        el("p", {}, "There is no event ", el("strong", { text: code || "(none)" }), " here. Check the code on the host's screen."),
      ],
      actions: [form],
    }),
  );
}

function showUnreachable(error, retry) {
  const delay = error.retryAfterS ? error.retryAfterS * 1000 : backoffDelay(transientAttempt);
  transientAttempt += 1;
  retryTimer = setTimeout(retry, delay);
  show(
    main,
    messageScreen({
      id: "unreachable",
      iconName: "wifiOff",
      tone: "warn",
      title: "Can't reach rollcall",
      lines: ["Check your connection. Trying again by itself…"],
      actions: [button("Try again now", retry, "btn btn-secondary btn-lg btn-block")],
    }),
  );
}

start();
