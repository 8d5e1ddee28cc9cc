import { describe, expect, it } from "vitest";

import type { ChatMessage } from "../store/messages";
import { authorName, snippet, typingLine } from "./chatView";

describe("typingLine", () => {
  it("names one or two, then says several", () => {
    expect(typingLine([])).toBe("");
    expect(typingLine(["Ann"])).toBe("Ann is typing…");
    expect(typingLine(["Ann", "Ben"])).toBe("Ann and Ben are typing…");
    expect(typingLine(["Ann", "Ben", "Cat"])).toBe("Several people are typing…");
  });
});

describe("snippet", () => {
  it("puts the text on one line and cuts it with an ellipsis", () => {
    expect(snippet("a\n  b")).toBe("a b");
    expect(snippet("abcdef", 4)).toBe("abc…");
    expect(snippet("abcd", 4)).toBe("abcd");
  });
});

describe("authorName", () => {
  it("is the name of the author's latest message", () => {
    const m = (seq: number, id: number, name: string) =>
      ({ seq, author: { id, display_name: name } }) as unknown as ChatMessage;
    expect(authorName([m(1, 5, "Old"), m(2, 6, "Ben"), m(3, 5, "New")], 5)).toBe("New");
    expect(authorName([], 5)).toBeUndefined();
  });
});
