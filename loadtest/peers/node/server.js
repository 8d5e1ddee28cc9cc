// The same minimal broadcast chat as plain_socketio.py, on Node's socket.io: what most teams
// would pick instead. No auth, no storage: the ceiling of fan-out alone.
const { createServer } = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 9100);
const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });

io.on("connection", (socket) => {
  socket.on("join", (data, ack) => {
    socket.join(String(data.room));
    if (ack) ack({ ok: true });
  });
  socket.on("send", (data, ack) => {
    io.to(String(data.room)).emit("message", { room: data.room, text: data.text });
    if (ack) ack({ ok: true });
  });
});

http.listen(port, "127.0.0.1", () => console.log(`node socket.io peer on ${port}`));
process.on("SIGTERM", () => process.exit(0));
