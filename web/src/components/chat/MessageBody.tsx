import { useMemo } from "react";

import { splitMentions } from "../../lib/mentions";

export interface MessageBodyProps {
  /** The message text as the author typed it (never trusted as HTML). */
  text: string;
  /** Display names that may be mentioned ("@Name"), longest match wins. */
  names: readonly string[];
  /** The reader's display name: a mention of it stands out. */
  myName: string;
}

/** A message's text with its mentions marked (one's own name stands out). */
export function MessageBody({ text, names, myName }: MessageBodyProps) {
  const parts = useMemo(() => splitMentions(text, names), [text, names]);
  return (
    <p className="whitespace-pre-wrap break-words [overflow-wrap:anywhere] text-slate-800">
      {parts.map((part, i) =>
        part.mention ? (
          <mark
            key={i}
            className={
              part.mention.toLowerCase() === myName.toLowerCase()
                ? "rounded bg-amber-200 px-0.5 font-semibold text-amber-950"
                : "rounded bg-indigo-100 px-0.5 font-medium text-indigo-900"
            }
          >
            {part.text}
          </mark>
        ) : (
          <span key={i}>{part.text}</span>
        ),
      )}
    </p>
  );
}
