// The header's message search: a search landmark with one box; Enter opens `/search?q=` (the results).
import { useState, type FormEvent } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";

export function SearchBox({ className = "", dark = true }: { className?: string; dark?: boolean }) {
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [q, setQ] = useState(() => params.get("q") ?? "");

  function submit(e: FormEvent) {
    e.preventDefault();
    const text = q.trim();
    if (text) void navigate(`/search?q=${encodeURIComponent(text)}`);
  }

  return (
    <form role="search" aria-label="Messages" onSubmit={submit} className={`min-w-0 ${className}`}>
      <input
        type="search"
        aria-label="Search messages"
        placeholder="Search messages"
        value={q}
        onChange={(e) => setQ(e.target.value)}
        maxLength={200}
        className={`w-full min-w-0 rounded px-2.5 py-1 text-sm focus:outline-none focus-visible:ring-2 ${
          dark
            ? "border border-indigo-300 bg-indigo-500/40 text-white placeholder:text-indigo-100 focus-visible:ring-white"
            : "border border-slate-300 bg-white text-slate-900 placeholder:text-slate-500 focus-visible:ring-indigo-500"
        }`}
      />
    </form>
  );
}
