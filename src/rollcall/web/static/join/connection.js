// The join page's live connection: the hello, what the server says on /ws, and what the page
// says when it is hidden, shown again or left. It moves the session's state and asks the
// session to show what follows.

import { LiveSocket } from "../shared/live.js";
import { ClientMessage, Close, ServerMessage } from "../shared/protocol.js";
import { closedScreen, kickedScreen } from "./screens.js";

/** Open the live connection of `session`, which has just joined, beating every heartbeatS. */
export function connect(session, heartbeatS) {
  session.live?.stop();
  session.live = new LiveSocket({
    // The session cookie from the join answer comes with the upgrade, so no token here.
    hello: () => ({ type: ClientMessage.HELLO }),
    onMessage: (message) => onMessage(session, message),
    onStatus: (status) => {
      session.pill.update(status);
      if (session.joined) session.renderJoined();
    },
    onFinal: (closeCode) => onFinal(session, closeCode),
  });
  session.pill.hidden = false;
  session.live.start();
  session.live.beatEvery(heartbeatS);
}

function onMessage(session, message) {
  const { live } = session;
  switch (message.type) {
    case ServerMessage.WELCOME:
      if (session.me && message.participant.id !== session.me.id) {
        // The cookie is one per browser: another tab joined another event since. Bind it back.
        return session.rebind();
      }
      session.me = message.participant;
      session.event = message.event;
      if (message.heartbeat_interval_s) live.beatEvery(message.heartbeat_interval_s);
      if (document.visibilityState === "hidden") live.send({ type: ClientMessage.AWAY });
      session.renderJoined();
      break;
    case ServerMessage.STATE:
      if (session.me && message.version >= session.me.version) {
        session.me = { ...session.me, state: message.state, version: message.version };
        session.renderJoined();
      }
      break;
    case ServerMessage.EVENT:
      session.event = message.event;
      if (session.event.status === "closed") {
        live.stop();
        session.showEnded(closedScreen(session.event));
      } else {
        session.renderJoined();
      }
      break;
    case ServerMessage.KICKED:
      live.stop();
      session.showEnded(kickedScreen());
      break;
    case ServerMessage.REPLACED:
      live.stop();
      session.showReplaced();
      break;
    default:
      break;
  }
}

function onFinal(session, closeCode) {
  session.pill.hidden = true;
  if (closeCode === Close.KICKED) return session.showEnded(kickedScreen());
  if (closeCode === Close.EVENT_CLOSED) return session.showEnded(closedScreen(session.event));
  if (closeCode === Close.REPLACED) return session.showReplaced();
  // INVALID_TOKEN: this token was revoked, most likely by a join from another tab. Join again
  // once; the answer says whether this phone is still in.
  return session.rebind();
}

// --- the page hidden, shown, left

function running(session) {
  return session.live !== null && !session.live.stopped;
}

export function visibilityChanged(session) {
  if (!running(session)) return;
  if (document.visibilityState === "hidden") {
    session.live.send({ type: ClientMessage.AWAY });
  } else if (!session.live.send({ type: ClientMessage.BACK })) {
    session.live.reconnectNow();
  }
}

export function pageHidden(session) {
  if (!running(session)) return;
  // The socket may not get its goodbye out; a beacon does, and says the page went away.
  const body = new Blob([JSON.stringify({ away: true })], { type: "application/json" });
  navigator.sendBeacon("/api/session/heartbeat", body);
}

export function pageShown(session, persisted) {
  if (persisted && running(session)) session.live.reconnectNow();
}
