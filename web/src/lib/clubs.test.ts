import { describe, expect, it } from "vitest";
import { parseInvite } from "./clubs";

describe("parseInvite", () => {
  it("reads the forms an invite is passed on in", () => {
    expect(parseInvite(" AbC-d_e ")).toBe("AbC-d_e");
    expect(parseInvite("http://127.0.0.1:8080/clubs?invite=q-w_e")).toBe("q-w_e");
    expect(parseInvite("/clubs?code=xyz")).toBe("xyz");
    expect(parseInvite("not a code!")).toBeNull();
    expect(parseInvite("")).toBeNull();
  });
});
