import { describe, expect, it } from "vitest";
import { countsAfter, goingLabel, rsvpStatus } from "./events";

describe("RSVP counts on a card", () => {
  it("moves the caller between going, waitlisted and nothing", () => {
    expect(countsAfter({ going: 2, waitlisted: 0 }, null, "going")).toEqual({ going: 3, waitlisted: 0 });
    expect(countsAfter({ going: 3, waitlisted: 0 }, "going", null)).toEqual({ going: 2, waitlisted: 0 });
    expect(countsAfter({ going: 5, waitlisted: 1 }, null, "waitlisted")).toEqual({ going: 5, waitlisted: 2 });
    expect(countsAfter({}, "going", null)).toEqual({ going: 0, waitlisted: 0 });
  });
  it("labels and statuses", () => {
    expect(goingLabel(3)).toBe("3 going");
    expect(goingLabel(null, 20)).toBe("0 of 20 going");
    expect(rsvpStatus({ status: "going", waitlist_position: null })).toBe("going");
    expect(rsvpStatus("waitlisted")).toBe("waitlisted");
    expect(rsvpStatus(null)).toBeNull();
  });
});
