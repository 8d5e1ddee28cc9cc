// Load generator of the chat benchmark (Node socket.io-client: a Python client tops out near
// 10,000 received messages/s on this machine). One process drives one part of the sockets; the
// orchestrator (bench_chat.py) runs several parts and sends them commands on stdin, one JSON per
// line: {"cmd":"step","rate":R,"seconds":S} sends R messages/s across this part's senders for S
// seconds and answers with deliveries and latency samples; {"cmd":"quit"}.
//
// Latency is end to end: the sender puts Date.now()-based microseconds in the text, every
// receiver subtracts it from its own clock (all parts run on this machine, one clock).
const { io } = require("socket.io-client");
const readline = require("readline");
const fs = require("fs");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
// cfg: {url, mode: "plain"|"clubhub", sockets: [{room, token?, url?}], senders: count, part, parts, idle?}
const clubhub = cfg.mode === "clubhub";
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

let stepStart = Infinity, stepEnd = -Infinity, delivered = 0, samples = [], seen = 0;
let acked = 0, refused = 0, sent = 0, frames = 0;
// Ack latency (send to durable ack), reported as ack_samples: the soak benchmark's p50/p99.
let ackSamples = [], ackSeen = 0;
const RESERVOIR = 20000;

function keep(reservoir, count, value) {
  if (reservoir.length < RESERVOIR) reservoir.push(value);
  else {
    const j = Math.floor(Math.random() * count);
    if (j < RESERVOIR) reservoir[j] = value;
  }
}

function record(text) {
  const t0 = Number(text.slice(0, text.indexOf("|")));
  if (!(t0 >= stepStart && t0 <= stepEnd)) return;
  delivered += 1;
  seen += 1;
  keep(samples, seen, (nowUs() - t0) / 1000);
}

// A busy server can close a socket before it handles the CONNECT (its connect timeout): try again a few
// times with a growing pause before giving up on the run.
async function connect(spec) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(spec);
    } catch (e) {
      if (attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, 1000 * 2 ** (attempt - 1)));
    }
  }
}

function connectOnce(spec) {
  return new Promise((resolve, reject) => {
    const opts = { transports: ["websocket"], reconnection: false, forceNew: true, timeout: 60000 };
    if (clubhub) opts.auth = { token: spec.token };
    const s = io(spec.url || cfg.url, opts);  // a socket of its own gateway (bench_chat --gateways)
    s.on("message", (m) => { frames += 1; record(m.text); });
    if (clubhub) s.on("message:batch", (b) => { frames += 1; for (const m of b.messages) record(m.text); });
    s.on("connect", () => {
      const [event, payload] = clubhub ? ["room:join", { room_id: spec.room }] : ["join", { room: spec.room }];
      s.timeout(60000).emit(event, payload, (err, ack) => {
        if (err || !ack || !ack.ok) reject(new Error(`join failed: ${err || JSON.stringify(ack)}`));
        else resolve(s);
      });
    });
    s.on("connect_error", (e) => { s.close(); reject(e); });
    s.on("disconnect", () => reject(new Error("closed before it joined")));
  });
}

async function main() {
  const sockets = [];
  const batch = 100;
  for (let i = 0; i < cfg.sockets.length; i += batch) {
    const chunk = cfg.sockets.slice(i, i + batch);
    sockets.push(...(await Promise.all(chunk.map(connect))));
  }
  // Senders: spread over rooms, the first `senders` sockets in round-robin room order.
  const byRoom = new Map();
  cfg.sockets.forEach((spec, i) => {
    if (!byRoom.has(spec.room)) byRoom.set(spec.room, []);
    byRoom.get(spec.room).push(i);
  });
  const senders = [];
  for (let k = 0; senders.length < Math.min(cfg.senders, sockets.length); k++) {
    for (const idx of byRoom.values()) if (k < idx.length && senders.length < cfg.senders) senders.push(idx[k]);
  }
  process.stdout.write(JSON.stringify({ ready: true, sockets: sockets.length, senders: senders.length }) + "\n");

  let counter = 0;
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const cmd = JSON.parse(line);
    if (cmd.cmd === "quit") break;
    if (cmd.cmd !== "step") continue;
    delivered = 0; samples = []; seen = 0; sent = 0; frames = 0;
    const ms = cmd.seconds * 1000;
    stepStart = nowUs();
    stepEnd = stepStart + ms * 1000;
    const tickMs = 5;
    let owed = 0, next = 0;
    const started = Date.now();
    await new Promise((resolve) => {
      const timer = setInterval(() => {
        const elapsed = Date.now() - started;
        if (elapsed >= ms) { clearInterval(timer); resolve(); return; }
        owed = cmd.rate * (elapsed / 1000) - sent;
        while (owed >= 1) {
          const s = sockets[senders[next % senders.length]];
          const room = cfg.sockets[senders[next % senders.length]].room;
          next += 1; owed -= 1; sent += 1; counter += 1;
          const text = `${nowUs()}|${cfg.part}-${counter} benchmark message`;
          const [event, payload] = clubhub
            ? ["message:send", { room_id: room, client_id: `p${cfg.part}-${counter}-${stepStart}`, text }]
            : ["send", { room, text }];
          const sentUs = nowUs();
          s.timeout(10000).emit(event, payload, (err, ack) => {
            if (!err && ack && ack.ok) {
              acked += 1; ackSeen += 1;
              keep(ackSamples, ackSeen, (nowUs() - sentUs) / 1000);
            } else refused += 1;
          });
        }
      }, tickMs);
    });
    await new Promise((r) => setTimeout(r, cmd.drain_ms || 1500));
    process.stdout.write(JSON.stringify({ step: true, rate: cmd.rate, sent, acked, refused, delivered, frames,
                                          seconds: cmd.seconds, samples, ack_samples: ackSamples }) + "\n");
    // Acks and refusals are counted from one report to the next, so none arriving between steps is lost.
    acked = 0; refused = 0; ackSamples = []; ackSeen = 0;
  }
  for (const s of sockets) s.close();
  process.exit(0);
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(1); });
