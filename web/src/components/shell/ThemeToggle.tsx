import { useTheme } from "../../lib/theme";

/** Switches between the light and the dark theme (the choice is stored; see lib/theme.ts). */
export function ThemeToggle({ className = "" }: { className?: string }) {
  const [theme, toggle] = useTheme();
  const dark = theme === "dark";
  return (
    <button
      type="button"
      aria-pressed={dark}
      onClick={toggle}
      className={`inline-flex items-center gap-1.5 whitespace-nowrap rounded px-2 py-1 text-sm ${className}`}
    >
      <span aria-hidden="true">{dark ? "☾" : "☀"}</span>
      Dark theme
    </button>
  );
}
