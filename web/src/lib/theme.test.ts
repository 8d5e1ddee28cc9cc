import { afterEach, describe, expect, it, vi } from "vitest";
import { THEME_KEY, currentTheme, parseTheme, resolveTheme, setTheme } from "./theme";

describe("resolveTheme", () => {
  it("follows the system without a stored choice", () => {
    expect(resolveTheme(null, true)).toBe("dark");
    expect(resolveTheme(null, false)).toBe("light");
  });
  it("a stored choice wins over the system", () => {
    expect(resolveTheme("light", true)).toBe("light");
    expect(resolveTheme("dark", false)).toBe("dark");
  });
  it("reads only the values it writes", () => {
    expect(parseTheme("dark")).toBe("dark");
    expect(parseTheme("DARK")).toBeNull();
    expect(parseTheme(null)).toBeNull();
  });
});

describe("setTheme", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("stores the choice, which then holds whatever the system prefers", () => {
    const store = new Map<string, string>();
    vi.stubGlobal("localStorage", {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    });
    vi.stubGlobal("matchMedia", () => ({ matches: true, addEventListener: () => undefined }));
    expect(currentTheme()).toBe("dark");
    setTheme("light");
    expect(store.get(THEME_KEY)).toBe("light");
    expect(currentTheme()).toBe("light");
  });

  it("follows the system when storage refuses", () => {
    vi.stubGlobal("localStorage", {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
    });
    vi.stubGlobal("matchMedia", () => ({ matches: false, addEventListener: () => undefined }));
    expect(() => setTheme("dark")).not.toThrow();
    expect(currentTheme()).toBe("light");
  });
});
