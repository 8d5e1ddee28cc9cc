import { describe, expect, it } from "vitest";
import { focusKey } from "./routeFocus";

describe("focusKey", () => {
  it("keeps a club's rooms on one page", () => {
    expect(focusKey("/clubs/3/rooms/7")).toBe("/clubs/3");
    expect(focusKey("/clubs/3")).toBe("/clubs/3");
  });
  it("tells other pages apart", () => {
    expect(focusKey("/clubs/3/events")).toBe("/clubs/3/events");
    expect(focusKey("/users/2")).toBe("/users/2");
    expect(focusKey("/")).toBe("/");
  });
});
