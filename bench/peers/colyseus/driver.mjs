// The arrival of phones at a Colyseus server, as rollcall's bench/arrival.py drives rollcall:
// IN_FLIGHT clients at a time, each a new SDK client joining a room by id (an HTTP seat
// reservation, then a WebSocket and the room's join confirmation), kept open to the end.
// Usage: node driver.mjs URL ROOM_IDS_JSON IN_FLIGHT WARMUP_S SECONDS MAX_ARRIVALS FIRST_SLOT
// (slot i of all drivers together joins room i modulo the rooms, as rollcall's phones do).
// Prints one JSON line: the start (epoch ms), each arrival's completion time (ms since the
// start) and duration, and the failures by message.
import { Client } from "@colyseus/sdk";

const [url, roomsJson, inFlightArg, warmupArg, secondsArg, maxArg, firstArg] =
  process.argv.slice(2);
const roomIds = JSON.parse(roomsJson);
const inFlight = Number(inFlightArg);
const endMs = (Number(warmupArg) + Number(secondsArg)) * 1000;
const maxArrivals = Number(maxArg);
const firstSlot = Number(firstArg ?? 0);

const startedAt = Date.now();
const started = performance.now();
const doneAt = [];
const durations = [];
const failures = {};
const joined = [];
let next = 0;

async function slot(index) {
  const roomId = roomIds[(firstSlot + index) % roomIds.length];
  while (next < maxArrivals && performance.now() - started < endMs) {
    const n = next++;
    const begin = performance.now();
    try {
      // A new client per phone: no connection is shared between phones.
      const room = await new Client(url).joinById(roomId, { name: `a${n}` });
      const finished = performance.now();
      joined.push(room);
      doneAt.push(finished - started);
      durations.push(finished - begin);
    } catch (error) {
      const key = String(error?.message ?? error).slice(0, 80);
      failures[key] = (failures[key] ?? 0) + 1;
    }
  }
}

await Promise.all(Array.from({ length: inFlight }, (_, i) => slot(i)));
process.stdout.write(
  `${JSON.stringify({ started: startedAt, doneAt, durations, failures, open: joined.length })}\n`,
);
await Promise.allSettled(joined.map((room) => room.leave()));
process.exit(0);
