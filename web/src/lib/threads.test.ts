import { describe, expect, it } from "vitest";
import type { ChatMessage, PendingMessage } from "../store/messages";
import { MessageStore } from "../store/messages";
import { inMainLog, isFromBlocked, mainLog, pendingReplies, pinnedSeqs, replyCount, replyCounts, repliesLabel, threadReplies } from "./threads";

function msg(seq: number, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { room_id: 1, seq, rev: seq, message_id: `m${seq}`, author: { id: 7, display_name: "Ann" }, text: `t${seq}`, ts: seq * 1000, reactions: {}, ...extra };
}

describe("threads", () => {
  it("keeps thread replies out of the room's log (same array when there are none)", () => {
    const plain = [msg(1), msg(2)];
    expect(mainLog(plain)).toBe(plain);
    const mixed = [msg(1), msg(2, { thread_root_seq: 1 }), msg(3)];
    expect(mainLog(mixed).map((m) => m.seq)).toEqual([1, 3]);
    expect(inMainLog({ thread_root_seq: null })).toBe(true);
  });

  it("merges fetched and live replies once per seq, newest rev winning, in seq order", () => {
    const fetched = [msg(5, { thread_root_seq: 2 }), msg(3, { thread_root_seq: 2 })];
    const held = [msg(2), msg(5, { thread_root_seq: 2, rev: 50, text: "edited" }), msg(6, { thread_root_seq: 2 }), msg(7, { thread_root_seq: 4 })];
    const out = threadReplies(2, fetched, held);
    expect(out.map((m) => m.seq)).toEqual([3, 5, 6]);
    expect(out[1].text).toBe("edited");
  });

  it("counts replies: the server's count or the live ones, whichever is more", () => {
    const root = msg(2, { thread: { reply_count: 4 } });
    expect(replyCount(root, [msg(3, { thread_root_seq: 2 })])).toBe(4);
    expect(replyCount(msg(2), [msg(3, { thread_root_seq: 2 }), msg(4, { thread_root_seq: 2, deleted: true })])).toBe(1);
    const counts = replyCounts([root, msg(3, { thread_root_seq: 9 }), msg(9), msg(10, { thread_root_seq: 9 })]);
    expect([...counts]).toEqual([
      [2, 4],
      [9, 2],
    ]);
    expect(repliesLabel(1)).toBe("1 reply");
    expect(repliesLabel(3)).toBe("3 replies");
  });

  it("finds one's own queued replies of a thread", () => {
    const p = (id: string, root?: number): PendingMessage => ({
      client_id: id,
      room_id: 1,
      text: id,
      author: { id: 1, display_name: "Me" },
      created_at: 0,
      status: "pending",
      ...(root ? { thread_root_seq: root } : {}),
    });
    expect(pendingReplies(2, [p("a"), p("b", 2), p("c", 3)]).map((x) => x.client_id)).toEqual(["b"]);
  });

  it("a queued thread reply is claimed by its broadcast, not by a room message of the same text", () => {
    const store = new MessageStore(1);
    store.applyJoin({ room_id: 1, last_seq: 1, rev: 1, online: [], missed: [msg(1)], updated: [], truncated: false });
    store.enqueue("hi", { id: 7, display_name: "Ann" }, null, "c1", 1);
    store.receive(msg(2, { text: "hi" }));
    expect(store.pending).toHaveLength(1);
    store.receive(msg(3, { text: "hi", thread_root_seq: 1 }));
    expect(store.pending).toHaveLength(0);
  });

  it("pins: the last room:pins, else the messages' marks", () => {
    expect([...pinnedSeqs([4, 2], [msg(1, { pinned: { at: 1 } })])]).toEqual([4, 2]);
    expect([...pinnedSeqs(null, [msg(1, { pinned: { at: 1 } }), msg(2), msg(3, { pinned: { at: 1 }, deleted: true })])]).toEqual([1]);
  });

  it("blocked authors: the block list once known, else the server's mark", () => {
    expect(isFromBlocked(msg(1, { author_blocked: true }), null)).toBe(true);
    expect(isFromBlocked(msg(1), null)).toBe(false);
    expect(isFromBlocked(msg(1, { author_blocked: true }), new Set())).toBe(false); // unblocked since
    expect(isFromBlocked(msg(1), new Set([7]))).toBe(true); // blocked since
  });
});
