// One Colyseus 0.18 process with one room type, "event": the peer of one `rollcall serve`.
// Usage: node server.mjs PORT ROOMS. Creates ROOMS rooms, then prints one line to stdout,
// "ready" and their ids as JSON, which the driver joins by id.
import { matchMaker, Room, Server } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";

// A room is an event: it keeps who joined (a name per session) and stays open when empty,
// as an event does; it keeps nothing durable, which is the difference the benchmark weighs.
class EventRoom extends Room {
  maxClients = 1_000_000;
  autoDispose = false;

  onCreate(options) {
    this.title = options.title;
    this.names = new Map();
  }

  onJoin(client, options) {
    this.names.set(client.sessionId, String(options?.name ?? ""));
  }

  onLeave(client) {
    this.names.delete(client.sessionId);
  }
}

const port = Number(process.argv[2]);
const rooms = Number(process.argv[3] ?? 1);
const server = new Server({ transport: new WebSocketTransport(), greet: false });
server.define("event", EventRoom);
await server.listen(port, "127.0.0.1");
const ids = [];
for (let i = 0; i < rooms; i++) {
  const room = await matchMaker.createRoom("event", { title: `arrival ${i}` });
  ids.push(room.roomId);
}
process.stdout.write(`ready ${JSON.stringify(ids)}\n`);
