import { ChatMarkdown } from "../../lib/markdown";

export interface MessageBodyProps {
  /** The message text as the author typed it (never trusted as HTML). */
  text: string;
  /** Display names that may be mentioned ("@Name"), longest match wins. */
  names: readonly string[];
  /** The reader's display name: a mention of it stands out. */
  myName: string;
  /** tabIndex of its links (-1 while the message list's roving focus is elsewhere). */
  tabIndex?: number;
}

/** A message's text: the safe formatting subset, links and mentions (lib/markdown.tsx). Any unbroken token
 * (a long URL or word) wraps anywhere, so one message can never widen the room. */
export function MessageBody({ text, names, myName, tabIndex }: MessageBodyProps) {
  return (
    <div className="min-w-0 max-w-full space-y-1 break-words text-slate-800 [overflow-wrap:anywhere]">
      <ChatMarkdown text={text} names={names} myName={myName} tabIndex={tabIndex} />
    </div>
  );
}
