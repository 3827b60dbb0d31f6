// The quiz host's scoreboard, on rollcall's SDK: the roster arrives whole once, then change by
// change; after a lost connection the SDK asks for what it missed (`since`), so the list never
// skips a join, a score or a goodbye. "+1" writes the player's state, which their phone shows.

import { host } from "/sdk/rollcall.js";

const code = new URLSearchParams(location.search).get("code") || "";
const token = new URLSearchParams(location.hash.slice(1)).get("host_token") || "";
const $ = (id) => document.getElementById(id);

function render(board) {
  const here = [...board.participants.values()].filter((p) => p.status === "active");
  here.sort((a, b) => (b.state.score ?? 0) - (a.state.score ?? 0));
  $("online").textContent = String(here.filter((p) => p.presence === "online").length);
  $("players").replaceChildren(
    ...here.map((player) => {
      const item = document.createElement("li");
      item.dataset.presence = player.presence;
      item.textContent = `${player.display_name}: ${player.state.score ?? 0} (${player.presence}) `;
      const plusOne = document.createElement("button");
      plusOne.type = "button";
      plusOne.textContent = "+1";
      plusOne.setAttribute("aria-label", `Give ${player.display_name} a point`);
      plusOne.onclick = () => board.setState(player.id, { score: (player.state.score ?? 0) + 1 });
      item.append(plusOne);
      return item;
    }),
  );
}

async function start() {
  $("code").textContent = code;
  let board;
  try {
    board = await host(code, token);
  } catch (error) {
    $("status").textContent = `Can't follow ${code}: ${error.code}`;
    return;
  }
  render(board);
  // One listener for every change; `joined`, `presence`, `state`, … exist one by one too.
  board.on("message", () => render(board));
  board.on("roster", () => render(board));
  board.on("connection", ({ status }) => {
    $("status").textContent = status === "connected" ? "Live" : "Reconnecting…";
  });
  board.on("end", ({ reason }) => {
    $("status").textContent = reason === "event_closed" ? "The quiz is over." : reason;
  });
  $("status").textContent = "Live";
}

start();
