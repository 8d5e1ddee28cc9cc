import { describe, expect, it } from "vitest";

import { meterPercent } from "../components/live/AudioPanel";
import { retryDelay, usableMode } from "./liveAudio";

describe("live audio", () => {
  it("backs off from half a second to fifteen, and stays there", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(retryDelay)).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });

  it("joins the stage only with the right to speak", () => {
    expect(usableMode("stage", true)).toBe("stage");
    expect(usableMode("stage", false)).toBe("listen");
    expect(usableMode("listen", true)).toBe("listen");
  });

  it("shows quiet sound on the meter and caps loud sound", () => {
    expect(meterPercent(0)).toBe(0);
    expect(meterPercent(-1)).toBe(0);
    expect(meterPercent(0.01)).toBe(20);
    expect(meterPercent(0.25)).toBe(100);
    expect(meterPercent(3)).toBe(100);
  });
});
