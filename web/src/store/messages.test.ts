import { describe, expect, it, vi } from "vitest";
import { MessageStore, isRetryable, newClientId, type ChatMessage, type JoinAck, type SendAck } from "./messages";

const ROOM = 7;
const alice = { id: 1, display_name: "Alice" };
const bob = { id: 2, display_name: "Bob" };

function msg(seq: number, extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    room_id: ROOM,
    seq,
    rev: seq,
    message_id: `m${seq}`,
    author: bob,
    text: `message ${seq}`,
    ts: 1_700_000_000_000 + seq,
    reactions: {},
    ...extra,
  };
}

function join(extra: Partial<JoinAck> = {}): JoinAck {
  return { room_id: ROOM, last_seq: 0, rev: 0, online: [], missed: [], updated: [], truncated: false, ...extra };
}

function seqs(store: MessageStore): number[] {
  return store.messages().map((m) => m.seq);
}

class NetworkError extends Error {
  status = 0;
  code = "offline";
}

class Refused extends Error {
  status = 422;
  code = "invalid";
}

/** A fake server: stores each client_id once and answers a re-sent one with its first ack. */
function fakeServer(startSeq = 0) {
  let seq = startSeq;
  const byClientId = new Map<string, SendAck>();
  const calls: string[] = [];
  let online = true;
  return {
    calls,
    stored: () => byClientId.size,
    setOnline(v: boolean) {
      online = v;
    },
    send: vi.fn((p: { client_id: string }): Promise<SendAck> => {
      calls.push(p.client_id);
      if (!online) return Promise.reject(new NetworkError("offline"));
      const known = byClientId.get(p.client_id);
      if (known) return Promise.resolve(known);
      seq += 1;
      const ack = { seq, rev: seq, message_id: `m${seq}`, ts: 1_700_000_000_000 + seq };
      byClientId.set(p.client_id, ack);
      return Promise.resolve(ack);
    }),
  };
}

describe("ordering", () => {
  it("keeps messages in seq order whatever the arrival order", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 0 }));
    s.receive(msg(1));
    s.receive(msg(3));
    s.receive(msg(2));
    expect(seqs(s)).toEqual([1, 2, 3]);
    expect(s.lastSeq).toBe(3);
    expect(s.gap()).toBeNull();
  });

  it("ignores messages of other rooms", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    s.receive({ ...msg(1), room_id: ROOM + 1 });
    expect(seqs(s)).toEqual([]);
  });

  it("notifies subscribers and gives a new snapshot after a change", () => {
    const s = new MessageStore(ROOM);
    const listener = vi.fn();
    s.subscribe(listener);
    const before = s.getSnapshot();
    s.applyJoin(join());
    s.receive(msg(1));
    expect(listener).toHaveBeenCalled();
    const after = s.getSnapshot();
    expect(after).not.toBe(before);
    expect(after.messages.map((m) => m.seq)).toEqual([1]);
    expect(s.getSnapshot()).toBe(after); // stable while nothing changes
  });
});

describe("dedup", () => {
  it("keeps one copy per seq", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    s.receive(msg(1));
    s.receive(msg(1));
    s.applyBatch([msg(1), msg(2)]);
    expect(seqs(s)).toEqual([1, 2]);
  });

  it("does not let an older copy of a message replace a newer one", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    s.receive(msg(1, { rev: 5, text: "edited", edited_at: 1 }));
    s.receive(msg(1, { rev: 1, text: "original" }));
    expect(s.get(1)?.text).toBe("edited");
  });

  it("replaces an acked pending message by the stored one, whichever comes first", () => {
    const a = new MessageStore(ROOM);
    a.applyJoin(join());
    const p = a.enqueue("hi", alice);
    // ack first, then the broadcast of the same message
    a.ack(p.client_id, { seq: 1, rev: 1, message_id: "m1", ts: 5 });
    a.receive(msg(1, { author: alice, text: "hi" }));
    expect(a.pending).toEqual([]);
    expect(seqs(a)).toEqual([1]);
    expect(a.get(1)?.author).toEqual(alice);

    const b = new MessageStore(ROOM);
    b.applyJoin(join());
    const q = b.enqueue("hi", alice);
    // broadcast first, then the ack
    b.receive(msg(1, { author: alice, text: "hi", reactions: { "👍": [2] }, rev: 2 }));
    b.ack(q.client_id, { seq: 1, rev: 1, message_id: "m1", ts: 5 });
    expect(b.pending).toEqual([]);
    expect(seqs(b)).toEqual([1]);
    expect(b.get(1)?.reactions).toEqual({ "👍": [2] }); // the newer stored copy is kept
  });

  it("swaps one's own message from pending to sent in one update, never showing both", async () => {
    // Every snapshot a screen could render: at no point "Sending…" and the stored copy together.
    const both = (s: MessageStore) => {
      const snap = s.getSnapshot();
      return snap.pending.some((p) => snap.messages.some((m) => m.author.id === p.author.id && m.text === p.text));
    };
    for (const broadcastFirst of [true, false]) {
      const s = new MessageStore(ROOM);
      s.applyJoin(join());
      const seen: boolean[] = [];
      s.subscribe(() => seen.push(both(s)));
      const server = fakeServer();
      s.enqueue("hello there", alice);
      await s.flush(async (p) => {
        const ack = await server.send(p);
        if (broadcastFirst) s.receive(msg(ack.seq, { author: alice, text: p.text }));
        return ack;
      });
      if (!broadcastFirst) s.receive(msg(1, { author: alice, text: "hello there" }));
      expect(seen).not.toContain(true);
      expect(s.pending).toEqual([]);
      expect(seqs(s)).toEqual([1]);
    }
  });

  it("a message with attachments (and no text) is shown pending with them, then stored with them", () => {
    const photo = { id: "a1", kind: "image" as const, url: "/media/a1/file", width: 4, height: 3, blurhash: null };
    const clip = { id: "b2", kind: "video" as const, url: "/media/b2/file", width: 16, height: 9, blurhash: null };
    const a = new MessageStore(ROOM);
    a.applyJoin(join());
    const p = a.enqueue("", alice, null, undefined, null, [photo]);
    expect(a.pending[0].attachments).toEqual([photo]);
    // Another empty message of one's own with other media is not the one acked.
    a.receive(msg(1, { author: alice, text: "", attachments: [clip] }));
    expect(a.pending).toHaveLength(1);
    a.receive(msg(2, { author: alice, text: "", attachments: [photo] }));
    expect(a.pending).toEqual([]);
    expect(a.get(2)?.attachments).toEqual([photo]);

    const b = new MessageStore(ROOM);
    b.applyJoin(join());
    const q = b.enqueue("look", alice, null, undefined, null, [photo, clip]);
    b.ack(q.client_id, { seq: 1, rev: 1, message_id: "m1", ts: 5 });
    expect(b.get(1)?.attachments?.map((x) => x.id)).toEqual(["a1", "b2"]);
    void p;
  });

  it("a broadcast of the same text by another author leaves one's pending message queued", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    s.enqueue("hi", alice);
    s.receive(msg(1, { author: bob, text: "hi" }));
    expect(s.pending.map((p) => p.text)).toEqual(["hi"]);
  });

  it("ignores a second ack of the same client_id", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    const p = s.enqueue("once", alice);
    s.ack(p.client_id, { seq: 1, rev: 1, message_id: "m1", ts: 5 });
    s.ack(p.client_id, { seq: 1, rev: 1, message_id: "m1", ts: 5 });
    expect(seqs(s)).toEqual([1]);
    expect(s.seqOf(p.client_id)).toBe(1);
  });
});

describe("message:batch", () => {
  it("applies a batch as that many messages", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 2, rev: 2 }));
    s.prependHistory([msg(1), msg(2)]);
    const gap = s.applyBatch([msg(3), msg(4), msg(5)]);
    expect(gap).toBeNull();
    expect(seqs(s)).toEqual([1, 2, 3, 4, 5]);
    expect(s.lastSeq).toBe(5);
    expect(s.rev).toBe(5);
  });
});

describe("message:updated", () => {
  it("applies an update only when its rev is newer", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    s.receive(msg(1, { rev: 1 }));
    expect(s.applyUpdate(msg(1, { rev: 3, text: "second edit", edited_at: 2 }))).toBe(true);
    expect(s.applyUpdate(msg(1, { rev: 2, text: "first edit", edited_at: 1 }))).toBe(false);
    expect(s.applyUpdate(msg(1, { rev: 3, text: "same rev" }))).toBe(false);
    expect(s.get(1)?.text).toBe("second edit");
    expect(s.rev).toBe(3);
  });

  it("applies deletes and reaction changes", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    s.receive(msg(1));
    s.applyUpdate(msg(1, { rev: 4, reactions: { "👍": [1, 2] } }));
    expect(s.get(1)?.reactions["👍"]).toEqual([1, 2]);
    s.applyUpdate(msg(1, { rev: 6, text: "", deleted: true, reactions: {} }));
    expect(s.get(1)?.deleted).toBe(true);
  });

  it("ignores updates of messages older than the window", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 10, rev: 10 }));
    s.prependHistory([msg(9), msg(10)]);
    expect(s.applyUpdate(msg(3, { rev: 11, text: "old one edited" }))).toBe(false);
    expect(seqs(s)).toEqual([9, 10]);
    expect(s.rev).toBe(11); // the room's revision still moved
  });
});

describe("gap detection", () => {
  it("reports the missing range of a live message past last_seq + 1", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 3, rev: 3 }));
    s.prependHistory([msg(1), msg(2), msg(3)]);
    expect(s.receive(msg(4))).toBeNull();
    const gap = s.receive(msg(7));
    expect(gap).toEqual({ afterSeq: 4, beforeSeq: 7 }); // 5 and 6 are missing
    expect(seqs(s)).toEqual([1, 2, 3, 4, 7]); // shown meanwhile
    expect(s.lastSeq).toBe(4);
    expect(s.sinceParams()).toEqual({ since_seq: 4, since_rev: 7 });
  });

  it("closes the gap with the fetched messages", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 1, rev: 1 }));
    s.prependHistory([msg(1)]);
    s.receive(msg(5));
    expect(s.gap()).toEqual({ afterSeq: 1, beforeSeq: 5 });
    expect(s.fillGap([msg(2), msg(3)])).toEqual({ afterSeq: 3, beforeSeq: 5 });
    expect(s.fillGap([msg(4)])).toBeNull();
    expect(s.lastSeq).toBe(5);
    expect(seqs(s)).toEqual([1, 2, 3, 4, 5]);
  });

  it("reports a gap when a rejoin did not bring everything up to last_seq", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 2, rev: 2 }));
    s.prependHistory([msg(1), msg(2)]);
    const gap = s.applyJoin(join({ last_seq: 6, rev: 6, missed: [msg(3), msg(4)] }));
    expect(gap).toEqual({ afterSeq: 4, beforeSeq: 7 });
  });
});

describe("join and rejoin", () => {
  it("first join places the window at the room's end; the latest page is prepended", () => {
    const s = new MessageStore(ROOM);
    expect(s.sinceParams()).toEqual({});
    s.applyJoin(join({ last_seq: 60, rev: 70 }));
    expect(s.hasOlder).toBe(true);
    expect(s.sinceParams()).toEqual({ since_seq: 60, since_rev: 70 });
    s.receive(msg(61, { rev: 71 })); // live, while the page loads
    s.prependHistory(Array.from({ length: 50 }, (_, i) => msg(11 + i)));
    expect(s.messages()[0].seq).toBe(11);
    expect(s.lastSeq).toBe(61);
    expect(s.hasOlder).toBe(true);
    expect(s.gap()).toBeNull();
  });

  it("rejoin applies missed and updated and moves since_seq/since_rev", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 2, rev: 2 }));
    s.prependHistory([msg(1), msg(2)]);
    expect(s.sinceParams()).toEqual({ since_seq: 2, since_rev: 2 });
    const gap = s.applyJoin(
      join({ last_seq: 4, rev: 6, missed: [msg(3), msg(4)], updated: [msg(1, { rev: 6, text: "edited", edited_at: 9 })] }),
    );
    expect(gap).toBeNull();
    expect(seqs(s)).toEqual([1, 2, 3, 4]);
    expect(s.get(1)?.text).toBe("edited");
    expect(s.sinceParams()).toEqual({ since_seq: 4, since_rev: 6 });
  });

  it("a truncated rejoin restarts the window at what the server replayed", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 2, rev: 2 }));
    s.prependHistory([msg(1), msg(2)]);
    s.applyJoin(join({ last_seq: 600, rev: 600, truncated: true, missed: [msg(599), msg(600)] }));
    expect(seqs(s)).toEqual([599, 600]);
    expect(s.hasOlder).toBe(true);
    expect(s.lastSeq).toBe(600);
    expect(s.gap()).toBeNull();
  });
});

describe("history", () => {
  it("prepends older pages and knows when the room's start is reached", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 4, rev: 4 }));
    s.prependHistory([msg(3), msg(4)]);
    expect(s.oldestSeq).toBe(3);
    expect(s.hasOlder).toBe(true);
    s.prependHistory([msg(1), msg(2)]);
    expect(seqs(s)).toEqual([1, 2, 3, 4]);
    expect(s.hasOlder).toBe(false);
    expect(s.lastSeq).toBe(4);
  });

  it("an empty page means there is nothing older", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 0 }));
    expect(s.hasOlder).toBe(false);
    s.prependHistory([]);
    expect(s.hasOlder).toBe(false);
    expect(seqs(s)).toEqual([]);
  });

  it("history does not overwrite newer copies", () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join({ last_seq: 2, rev: 2 }));
    s.receive(msg(3, { rev: 9, text: "edited" }));
    s.prependHistory([msg(1), msg(2), msg(3, { rev: 3 })]);
    expect(s.get(3)?.text).toBe("edited");
  });
});

describe("offline queue", () => {
  it("gives each message a client_id and shows it pending", () => {
    const s = new MessageStore(ROOM);
    const p = s.enqueue("hello", alice, 3);
    expect(p.client_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.status).toBe("pending");
    expect(p.reply_to_seq).toBe(3);
    expect(s.getSnapshot().pending).toHaveLength(1);
    expect(newClientId()).not.toBe(newClientId());
  });

  it("keeps messages typed offline and sends them in order with the same client_id once back", async () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    const server = fakeServer();
    server.setOnline(false);
    const first = s.enqueue("one", alice);
    const second = s.enqueue("two", alice);
    await s.flush(server.send);
    // The first attempt failed on the network: nothing lost, nothing marked failed.
    expect(s.pending.map((p) => [p.client_id, p.status])).toEqual([
      [first.client_id, "pending"],
      [second.client_id, "pending"],
    ]);
    expect(server.stored()).toBe(0);

    server.setOnline(true);
    await s.flush(server.send);
    expect(server.calls).toEqual([first.client_id, first.client_id, second.client_id]);
    expect(server.stored()).toBe(2);
    expect(s.pending).toEqual([]);
    expect(s.messages().map((m) => [m.seq, m.text])).toEqual([
      [1, "one"],
      [2, "two"],
    ]);
  });

  it("never has the same message in flight twice, even with concurrent flushes", async () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    let release!: (ack: SendAck) => void;
    const send = vi.fn(() => new Promise<SendAck>((resolve) => (release = resolve)));
    const p = s.enqueue("hello", alice);
    const a = s.flush(send);
    const b = s.flush(send); // e.g. reconnect fires while the first send is in flight
    expect(a).toBe(b);
    expect(s.pending[0].status).toBe("sending");
    release({ seq: 1, rev: 1, message_id: "m1", ts: 1 });
    await a;
    expect(send).toHaveBeenCalledTimes(1);
    expect(s.pending).toEqual([]);
    expect(s.seqOf(p.client_id)).toBe(1);
    await s.flush(send);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it("an ack lost in transit: the re-send gets the first ack and the message appears once", async () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    const server = fakeServer();
    const p = s.enqueue("maybe sent", alice);
    // The server stores it but the connection drops before the ack arrives.
    await s.flush(async (m) => {
      await server.send(m);
      throw new NetworkError("disconnected");
    });
    expect(s.pending[0].status).toBe("pending");
    // Back online: the rejoin replays the stored message, then the queue is re-sent.
    s.applyJoin(join({ last_seq: 1, rev: 1, missed: [msg(1, { author: alice, text: "maybe sent" })] }));
    expect(seqs(s)).toEqual([1]);
    await s.flush(server.send);
    expect(server.calls).toEqual([p.client_id, p.client_id]);
    expect(server.stored()).toBe(1);
    expect(s.pending).toEqual([]);
    expect(seqs(s)).toEqual([1]);
  });

  it("a refused message is marked failed and the rest of the queue goes on", async () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    const server = fakeServer();
    const bad = s.enqueue("x".repeat(5000), alice);
    s.enqueue("fine", alice);
    await s.flush(async (m) => {
      if (m.client_id === bad.client_id) throw new Refused("too long");
      return server.send(m);
    });
    expect(s.pending).toHaveLength(1);
    expect(s.pending[0].status).toBe("failed");
    expect(seqs(s)).toEqual([1]);
    s.retry(bad.client_id);
    expect(s.pending[0].status).toBe("pending");
    s.discard(bad.client_id);
    expect(s.pending).toEqual([]);
  });

  it("sits out a rate limit and sends the same message again", async () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    const server = fakeServer();
    let limited = 2;
    const waits: number[] = [];
    const p = s.enqueue("busy", alice);
    await s.flush(
      async (m) => {
        if (limited-- > 0) throw Object.assign(new Error("too many messages: wait 0.2s"), { code: "rate_limited", status: 429, retryAfter: 0.2 });
        return server.send(m);
      },
      (ms) => {
        waits.push(ms);
        expect(s.pending[0].status).toBe("sending"); // still shown as sending while it waits
        return Promise.resolve();
      },
    );
    expect(waits).toEqual([200, 200]);
    expect(s.pending).toEqual([]);
    expect(server.calls).toEqual([p.client_id]);
    expect(seqs(s)).toEqual([1]);
  });

  it("fails a message whose rate-limit wait is too long (slow mode)", async () => {
    const s = new MessageStore(ROOM);
    s.applyJoin(join());
    s.enqueue("slow", alice);
    const sleep = vi.fn(() => Promise.resolve());
    await s.flush(
      () => Promise.reject(Object.assign(new Error("slow mode"), { code: "rate_limited", status: 429, retryAfter: 300 })),
      sleep,
    );
    expect(sleep).not.toHaveBeenCalled();
    expect(s.pending[0].status).toBe("failed");
  });

  it("tells retryable errors from refusals", () => {
    expect(isRetryable({ status: 0, code: "network" })).toBe(true);
    expect(isRetryable({ status: 503, code: "unavailable" })).toBe(true);
    expect(isRetryable({ status: 422, code: "invalid" })).toBe(false);
    expect(isRetryable({ status: 429, code: "rate_limited" })).toBe(false);
    expect(isRetryable({ status: 403, code: "forbidden" })).toBe(false);
  });
});
