import { focusMainHeading } from "./routeFocus";

/** The first tab stop of every page: straight to the page's content (its heading, else <main>). */
export function SkipLink() {
  return (
    <a
      href="#content"
      onClick={(e) => {
        const main = document.getElementById("content");
        if (!main) return;
        e.preventDefault();
        if (!focusMainHeading(main)) main.focus();
      }}
      className="sr-only rounded bg-white px-3 py-2 font-medium text-indigo-700 shadow focus:not-sr-only focus:fixed focus:left-2 focus:top-2 focus:z-50"
    >
      Skip to content
    </a>
  );
}
