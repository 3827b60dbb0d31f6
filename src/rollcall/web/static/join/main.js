// The join page, where the QR code leads. First visit: ask for a name. Every visit after that:
// join again at once with this device's id (the server gives back the same participant), then
// stay live over /ws: heartbeats, away/back, reconnects, and the state the host sets.

import { codeFromPath } from "../shared/api.js";
import { device } from "../shared/device.js";
import { connectionPill } from "../shared/pill.js";
import { pageHidden, pageShown, visibilityChanged } from "./connection.js";
import { JoinSession } from "./session.js";

const code = codeFromPath();
const pill = connectionPill();
pill.hidden = true;
document.getElementById("connection-slot").append(pill);
document.getElementById("footer-code").textContent = code;
document.getElementById("footer").hidden = false;

const session = new JoinSession({
  code,
  device: device(),
  main: document.getElementById("main"),
  pill,
});

document.addEventListener("visibilitychange", () => visibilityChanged(session));
addEventListener("pagehide", () => pageHidden(session));
addEventListener("pageshow", (pageEvent) => pageShown(session, pageEvent.persisted));

session.start();
