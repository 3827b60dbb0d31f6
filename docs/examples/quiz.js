// A quiz player's phone, on rollcall's SDK: join once with a name; after that, every visit (a
// reload, the QR code scanned again) comes back as the same participant without asking. The quiz
// host writes each player's state (`score`, `question`); this page shows it as it changes.

import { EndReason, join } from "/sdk/rollcall.js";

const code = new URLSearchParams(location.search).get("code") || "";
const $ = (id) => document.getElementById(id);

const ENDINGS = {
  [EndReason.LEFT]: "You left the quiz.",
  [EndReason.KICKED]: "The quiz host removed you.",
  [EndReason.CLOSED]: "The quiz is over. Thanks for playing!",
  [EndReason.REPLACED]: "You are playing in another tab.",
  [EndReason.MOVED]: "You continued on another phone.",
  [EndReason.REVOKED]: "You are no longer in the quiz.",
};
// After these, joining again is up to the player: offer the button.
const CAN_COME_BACK = new Set([EndReason.LEFT, EndReason.REPLACED, EndReason.REVOKED]);

function showOnly(id) {
  for (const section of ["ask", "play", "over"]) $(section).hidden = section !== id;
}

function play(player) {
  $("me").textContent = player.name;
  const showState = () => {
    $("score").textContent = String(player.state.score ?? 0);
    $("question").textContent = player.state.question ?? "Wait for the first question…";
  };
  showState();
  player.on("state", showState);
  player.on("participant", showState); // a reconnect brings the whole participant again
  player.on("connection", ({ status }) => {
    $("status").textContent = status === "connected" ? "Connected" : "Reconnecting…";
  });
  player.on("end", ({ reason }) => {
    $("status").textContent = "";
    $("over-title").textContent = ENDINGS[reason];
    $("again").hidden = !CAN_COME_BACK.has(reason);
    showOnly("over");
  });
  $("leave").onclick = () => player.leave();
  $("again").onclick = async () => {
    await player.rejoin();
    showOnly("play");
  };
  showOnly("play");
}

async function start() {
  $("code").textContent = code;
  try {
    // Without a name: this browser's participant, if it has one in this quiz.
    play(await join(code));
  } catch (error) {
    if (error.code !== "name_required") {
      $("status").textContent = `Can't join: ${error.message}`;
      return;
    }
    $("status").textContent = "";
    showOnly("ask");
  }
}

$("ask").addEventListener("submit", async (submitEvent) => {
  submitEvent.preventDefault();
  $("problem").textContent = "";
  try {
    play(await join(code, $("name").value));
  } catch (error) {
    // name_taken, event_full, event_locked, …: rollcall's problem says what went wrong.
    $("problem").textContent = error.message;
  }
});

start();
