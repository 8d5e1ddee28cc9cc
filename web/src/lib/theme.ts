// The colour theme: the person's choice ("light" or "dark") kept in localStorage, else the system's
// (prefers-color-scheme). The `dark` class on <html> switches the palette (index.css).
import { useCallback, useSyncExternalStore } from "react";

export type Theme = "light" | "dark";

export const THEME_KEY = "clubhub-theme";
const DARK_QUERY = "(prefers-color-scheme: dark)";

/** A stored value as a theme (null when absent or not one we wrote). */
export function parseTheme(value: string | null | undefined): Theme | null {
  return value === "light" || value === "dark" ? value : null;
}

/** The theme in force: the stored choice wins over the system's preference. */
export function resolveTheme(stored: Theme | null, systemDark: boolean): Theme {
  return stored ?? (systemDark ? "dark" : "light");
}

function storedTheme(): Theme | null {
  try {
    return parseTheme(globalThis.localStorage?.getItem(THEME_KEY));
  } catch {
    return null; // storage refused (private mode, blocked cookies): follow the system
  }
}

function systemDark(): boolean {
  return typeof matchMedia === "function" && matchMedia(DARK_QUERY).matches;
}

const listeners = new Set<() => void>();

export function currentTheme(): Theme {
  return resolveTheme(storedTheme(), systemDark());
}

/** Puts the theme in force on <html> (the `dark` class and the form controls' color-scheme). */
export function applyTheme(theme: Theme = currentTheme()): void {
  if (typeof document === "undefined") return;
  const root = document.documentElement;
  root.classList.toggle("dark", theme === "dark");
  root.style.colorScheme = theme;
  for (const l of listeners) l();
}

/** Stores the person's choice and applies it. */
export function setTheme(theme: Theme): void {
  try {
    globalThis.localStorage?.setItem(THEME_KEY, theme);
  } catch {
    // not stored: it still holds for this page
  }
  applyTheme(theme);
}

let watching = false;

/** Follows the system's preference while the person has made no choice, and a choice made in
 * another tab (the storage event). */
export function watchTheme(): void {
  if (watching || typeof window === "undefined") return;
  watching = true;
  if (typeof matchMedia === "function") matchMedia(DARK_QUERY).addEventListener("change", () => applyTheme());
  window.addEventListener("storage", (e) => {
    if (e.key === THEME_KEY) applyTheme();
  });
}

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

/** The theme in force and a toggle that stores the other one. */
export function useTheme(): [Theme, () => void] {
  const theme = useSyncExternalStore(subscribe, currentTheme, (): Theme => "light");
  const toggle = useCallback(() => setTheme(currentTheme() === "dark" ? "light" : "dark"), []);
  return [theme, toggle];
}

// In force from the first render on (this module loads with the app's shell).
if (typeof document !== "undefined") {
  applyTheme();
  watchTheme();
}
