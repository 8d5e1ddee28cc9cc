// The typing benchmark's page: the real ChatRoom (list, composer and all) over a room whose store holds
// 500 messages, without a server (nothing is joined, so typing sends nothing). typing_bench.py drives it.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { MemoryRouter } from "react-router-dom";

import "../src/index.css";
import { ChatRoom } from "../src/components/chat/ChatRoom";
import { hub } from "../src/lib/rooms";
import type { ChatMessage } from "../src/store/messages";

const ROOM = 1;
const COUNT = 500;
const authors = ["Ann", "Ben", "Cleo", "Dev", "Eve"].map((display_name, i) => ({ id: i + 2, display_name }));
const me = { id: 1, display_name: "Bench", email: "bench@example.com", bio: "", created_at: "", email_verified: true };
const words = "the quick brown fox jumps over the lazy dog while the band plays another chorus tonight".split(" ");

const start = Date.now() - 3 * 86_400_000;
const messages: ChatMessage[] = [];
for (let seq = 1; seq <= COUNT; seq++) {
  // Deterministic: runs of one author (grouping), replies, reactions, a few days (dividers).
  const author = authors[Math.floor(seq / 3) % authors.length];
  const n = 4 + ((seq * 7) % 23);
  messages.push({
    room_id: ROOM,
    seq,
    rev: seq,
    message_id: `m${seq}`,
    author,
    text: Array.from({ length: n }, (_, i) => words[(seq + i) % words.length]).join(" "),
    ts: start + seq * 8 * 60_000,
    reactions: seq % 10 === 0 ? { "👍": [2, 3] } : {},
    ...(seq % 25 === 0 ? { reply_to_seq: seq - 3 } : {}),
  });
}

const session = hub.session(ROOM);
session.store.applyJoin({ room_id: ROOM, last_seq: COUNT, rev: COUNT, online: [], missed: [], updated: [], truncated: false });
session.store.prependHistory(messages);
const names = new Map(authors.map((a) => [a.id, a.display_name]));

const root = document.getElementById("root");
if (!root) throw new Error("no #root");
root.className = "flex h-screen flex-col";
createRoot(root).render(
  <StrictMode>
    <MemoryRouter>
      <ChatRoom session={session} roomName="general" me={me} canModerate={false} names={names} />
    </MemoryRouter>
  </StrictMode>,
);
(window as unknown as { benchReady: boolean }).benchReady = true;
