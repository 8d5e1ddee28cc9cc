// `/search?q=`: messages matching the words, best match first, only from rooms the reader may read now
// (`GET /search/messages`, page by page with "Load more results"). A result opens its room scrolled to the
// message (`/rooms/:id?seq=N`, as a notification does). The matched words are marked with <mark>; the
// server's excerpt is split into text (lib/search.ts), never put into the page as HTML.
import { useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { messageTime } from "../lib/dates";
import { MIN_QUERY, highlightSegments, hitHref, searchMessages, type SearchHit } from "../lib/search";
import { Button, ErrorAlert, PageTitle, inputClass } from "../components/ui";

interface Results {
  q: string;
  items: SearchHit[];
  next: string | null;
  loading: boolean;
  error: unknown;
}

function Highlight({ hit }: { hit: SearchHit }) {
  return (
    <>
      {highlightSegments(hit.highlight, hit.text).map((s, i) =>
        s.match ? (
          <mark key={i} className="rounded bg-amber-200 px-0.5 text-slate-900">
            {s.text}
          </mark>
        ) : (
          <span key={i}>{s.text}</span>
        ),
      )}
    </>
  );
}

export default function SearchPage() {
  const [params] = useSearchParams();
  const q = (params.get("q") ?? "").trim();
  const navigate = useNavigate();
  const [text, setText] = useState(q);
  const [results, setResults] = useState<Results>({ q: "", items: [], next: null, loading: false, error: null });
  const [now] = useState(() => Date.now());

  // Another query from the header's box (adjusted while rendering).
  const [shownQ, setShownQ] = useState(q);
  if (shownQ !== q) {
    setShownQ(q);
    setText(q);
  }

  useEffect(() => {
    if (q.length < MIN_QUERY) return;
    const ctl = new AbortController();
    setResults({ q, items: [], next: null, loading: true, error: null });
    searchMessages(q, { signal: ctl.signal }).then(
      (page) => setResults({ q, items: page.items ?? [], next: page.next_cursor ?? null, loading: false, error: null }),
      (err: unknown) => {
        if (!ctl.signal.aborted) setResults({ q, items: [], next: null, loading: false, error: err });
      },
    );
    return () => ctl.abort();
  }, [q]);

  async function more() {
    if (!results.next) return;
    setResults((r) => ({ ...r, loading: true, error: null }));
    try {
      const page = await searchMessages(q, { cursor: results.next });
      setResults((r) => {
        const seen = new Set(r.items.map((h) => `${h.room_id}:${h.seq}`));
        const added = (page.items ?? []).filter((h) => !seen.has(`${h.room_id}:${h.seq}`));
        return { ...r, items: [...r.items, ...added], next: page.next_cursor ?? null, loading: false };
      });
    } catch (err) {
      setResults((r) => ({ ...r, loading: false, error: err }));
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    const t = text.trim();
    if (t) void navigate(`/search?q=${encodeURIComponent(t)}`);
  }

  const shown = results.q === q;
  return (
    <div className="mx-auto w-full max-w-3xl space-y-4 p-4">
      <PageTitle>Search messages</PageTitle>
      <form role="search" aria-label="Search messages" onSubmit={submit} className="flex gap-2">
        <input
          type="search"
          aria-label="Words to find"
          value={text}
          onChange={(e) => setText(e.target.value)}
          maxLength={200}
          className={`${inputClass} min-w-0 flex-1`}
        />
        <Button type="submit">Search</Button>
      </form>
      {q.length > 0 && q.length < MIN_QUERY && <p className="text-sm text-slate-600">Type at least {MIN_QUERY} characters.</p>}
      {shown && results.error != null && <ErrorAlert error={results.error} />}
      <p role="status" className="text-sm text-slate-700">
        {!shown || (results.loading && results.items.length === 0)
          ? q.length >= MIN_QUERY
            ? "Searching…"
            : ""
          : results.items.length === 0 && !results.error
            ? `No messages match “${q}”.`
            : results.items.length > 0
              ? `${results.items.length}${results.next ? "+" : ""} ${results.items.length === 1 ? "message" : "messages"} found`
              : ""}
      </p>
      {shown && results.items.length > 0 && (
        <ul aria-label="Search results" className="space-y-2">
          {results.items.map((hit) => (
            <li key={`${hit.room_id}:${hit.seq}`}>
              <Link
                to={hitHref(hit)}
                className="block rounded-lg border border-slate-200 bg-white p-3 text-slate-900 no-underline hover:border-indigo-300 hover:bg-indigo-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
              >
                <span className="flex flex-wrap items-baseline gap-x-2 text-xs text-slate-600">
                  <span className="font-semibold text-slate-800">{hit.author?.display_name}</span>
                  {hit.room_name && <span>in {hit.room_name}</span>}
                  {typeof hit.ts === "number" && <time dateTime={new Date(hit.ts).toISOString()}>{messageTime(hit.ts, now)}</time>}
                </span>
                <span className="mt-1 block break-words text-sm [overflow-wrap:anywhere]">
                  <Highlight hit={hit} />
                  {Array.isArray(hit.attachments) && hit.attachments.length > 0 && (
                    <span className="ml-1 text-xs text-slate-600">
                      {hit.text ? " · " : ""}
                      {hit.attachments.length === 1 ? (hit.attachments[0].kind === "video" ? "Video" : "Photo") : `${hit.attachments.length} attachments`}
                    </span>
                  )}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {shown && results.next && (
        <Button variant="secondary" disabled={results.loading} onClick={() => void more()}>
          {results.loading ? "Loading…" : "Load more results"}
        </Button>
      )}
    </div>
  );
}
