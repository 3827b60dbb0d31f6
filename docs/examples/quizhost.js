// The quiz host, on rollcall's SDK. One call puts a question in front of every phone: the event
// state. rollcall gives it to each phone at once, and to a phone that was away when it comes back.
// The phones answer with actions whose id is the question's id, so each player's answer counts
// once however often it is sent; the receipts say how many phones have the question on screen.

import { host } from "/sdk/rollcall.js";

const code = new URLSearchParams(location.search).get("code") || "";
const token = new URLSearchParams(location.hash.slice(1)).get("host_token") || "";
const $ = (id) => document.getElementById(id);

const QUESTIONS = [
  { text: "What is 6 × 7?", choices: ["42", "36", "48", "49"], answer: 0 },
  { text: "Which planet is largest?", choices: ["Mars", "Jupiter", "Venus"], answer: 1 },
  { text: "How many sides has a hexagon?", choices: ["5", "8", "6", "7"], answer: 2 },
];

// Who answered what, per question id: participant id -> choice. One entry per player, whatever
// the stream or the listing brings twice.
const answers = new Map();
// The event-state version each question went out with: the receipts count phones that have it.
let askedAt = 0;

function current(board) {
  return board.eventState.question ?? null;
}

function count(action) {
  if (action.name !== "answer") return;
  if (!answers.has(action.id)) answers.set(action.id, new Map());
  answers.get(action.id).set(action.participant_id, action.data?.choice);
}

async function countEarlierAnswers(board) {
  // A reload of this page: the answers so far, page by page, then the live ones on top.
  let since = 0;
  for (;;) {
    const page = await board.listActions({ since, name: "answer", limit: 1000 });
    page.actions.forEach(count);
    if (page.actions.length < 1000) return;
    since = page.next_since;
  }
}

function render(board) {
  const question = current(board);
  const phase = board.eventState.phase;
  $("next").textContent = question ? "Next question" : "First question";
  $("next").disabled = question?.number === QUESTIONS.length && phase === "reveal";
  $("reveal").disabled = !question || phase !== "asking";
  if (!question) return;
  $("question").textContent = `Question ${question.number}: ${question.text}`;
  const receipts = board.receipts;
  if (receipts && receipts.event_version >= askedAt) {
    const latest = receipts.event_version === askedAt ? "the question" : "the latest";
    $("receipts").textContent = `${receipts.seen} of ${receipts.of} phones show ${latest}`;
  }
  const given = [...(answers.get(question.id)?.values() ?? [])];
  $("counts").replaceChildren(
    ...question.choices.map((text, choice) => {
      const item = document.createElement("li");
      const right = phase === "reveal" && choice === board.eventState.answer ? " ✓" : "";
      item.textContent = `${text}: ${given.filter((c) => c === choice).length}${right}`;
      return item;
    }),
  );
  $("answers").textContent = `${given.length} answers`;
}

async function ask(board) {
  const number = (current(board)?.number ?? 0) + 1;
  const { text, choices } = QUESTIONS[number - 1];
  const question = { id: `q${number}`, number, text, choices };
  try {
    // expectVersion: if another host's page changed the quiz meanwhile, nothing is overwritten.
    const changed = await board.setEventState(
      { question, phase: "asking", answer: null },
      { expectVersion: board.eventStateVersion },
    );
    askedAt = changed.version;
  } catch (error) {
    $("status").textContent = `Not sent: ${error.message}`;
  }
  render(board);
}

async function reveal(board) {
  const question = current(board);
  await board.setEventState({ phase: "reveal", answer: QUESTIONS[question.number - 1].answer });
  render(board);
}

async function start() {
  $("code").textContent = code;
  let board;
  try {
    board = await host(code, token);
    await countEarlierAnswers(board);
  } catch (error) {
    $("status").textContent = `Can't host ${code}: ${error.code}`;
    return;
  }
  askedAt = board.eventStateVersion;
  board.on("action", (action) => {
    count(action);
    render(board);
  });
  board.on("event_state", () => render(board));
  board.on("receipts", () => render(board));
  board.on("connection", ({ status }) => {
    $("status").textContent = status === "connected" ? "Live" : "Reconnecting…";
  });
  board.on("end", ({ reason }) => {
    $("status").textContent = reason === "event_closed" ? "The quiz is over." : reason;
  });
  $("next").onclick = () => ask(board);
  $("reveal").onclick = () => reveal(board);
  $("status").textContent = "Live";
  render(board);
}

start();
