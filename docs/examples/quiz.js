// A quiz player's phone, on rollcall's SDK: join once with a name; after that, every visit (a
// reload, the QR code scanned again) comes back as the same participant without asking.
//
// The quiz host puts the current question in the event state (quizhost.js); every phone gets it,
// also one that was away when it changed. An answer is an action whose id is the question's, so a
// double tap or a resend after a lost connection counts once. The SDK keeps it until rollcall
// acknowledges it, and tells rollcall the question is on screen once this page has drawn it.

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
const LETTERS = "ABCDEFGH";

// This page's answers, by question id: the choice, and whether rollcall has it yet.
const answers = new Map();

function showOnly(id) {
  for (const section of ["ask", "play", "over"]) $(section).hidden = section !== id;
}

function showQuestion(player) {
  const { question, phase, answer } = player.eventState;
  if (!question) {
    $("question").textContent = "Wait for the first question…";
    $("choices").replaceChildren();
    $("answered").textContent = "";
    return;
  }
  $("question").textContent = `Question ${question.number}: ${question.text}`;
  const mine = answers.get(question.id);
  $("choices").replaceChildren(
    ...question.choices.map((text, choice) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${LETTERS[choice]}: ${text}`;
      button.disabled = phase !== "asking" || mine !== undefined;
      button.setAttribute("aria-pressed", String(mine?.choice === choice));
      button.onclick = () => answerWith(player, question, choice);
      return button;
    }),
  );
  let said = "";
  if (mine) said = mine.received ? "Answer received." : "Sending your answer…";
  if (phase === "reveal") {
    const right = `The answer was ${LETTERS[answer]}.`;
    said = mine ? `${right} ${mine.choice === answer ? "Well done!" : "Not this time."}` : right;
  }
  $("answered").textContent = said;
}

async function answerWith(player, question, choice) {
  const mine = { choice, received: false };
  answers.set(question.id, mine);
  showQuestion(player);
  try {
    // The question's id as the action's id: this answer counts once, whatever happens to it.
    await player.act("answer", { choice }, { id: question.id });
    mine.received = true;
  } catch (error) {
    answers.delete(question.id);
    $("answered").textContent = `Your answer did not count: ${error.message}`;
    return;
  }
  showQuestion(player);
}

function play(player) {
  $("me").textContent = player.name;
  const showScore = () => {
    $("score").textContent = String(player.state.score ?? 0);
  };
  showScore();
  showQuestion(player);
  player.on("state", showScore);
  player.on("participant", showScore); // a reconnect brings the whole participant again
  player.on("event_state", () => showQuestion(player)); // each change, and the latest on reconnect
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
