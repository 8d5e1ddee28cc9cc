// The safe formatting subset of chat text: bold, italic, strikethrough, inline code, code blocks, quotes and
// links (bare URLs only), parsed by react-markdown into React elements. User text never becomes HTML: raw
// HTML is not even parsed (it stays text), only the elements listed in ALLOWED_ELEMENTS are rendered, and a
// link's address must be http(s) or mailto.
import { useMemo, type ComponentProps } from "react";
import Markdown, { type Components, type Options } from "react-markdown";
import remarkGfm from "remark-gfm";

import { splitMentions } from "./mentions";

/** Every element chat text may render as; anything else is unwrapped to its text. */
export const ALLOWED_ELEMENTS = ["p", "br", "strong", "em", "del", "code", "pre", "blockquote", "a", "mark"] as const;

/** Markdown constructs chat does not use: they stay literal text ("# 1 fan", "1. first", "---", "<b>").
 * Masked links ([text](url)) and images are off too, so every link shows the address it goes to. */
export const DISABLED_CONSTRUCTS = [
  "headingAtx",
  "setextUnderline",
  "thematicBreak",
  "list",
  "codeIndented",
  "htmlFlow",
  "htmlText",
  "definition",
  "labelStartLink",
  "labelStartImage",
  "table",
  "tasklistCheck",
  "gfmFootnoteDefinition",
  "gfmFootnoteCall",
  "gfmPotentialFootnoteCall",
];

/** rel of every link in user content: no window.opener, no endorsement, user-generated. */
export const LINK_REL = "noopener nofollow ugc";

const SAFE_URL = /^(?:https?:\/\/|mailto:)/i;

/** Only web and mail addresses survive; anything else (javascript:, data:, relative paths) becomes "". */
export function safeUrl(url: string): string {
  return SAFE_URL.test(url.trim()) ? url.trim() : "";
}

interface Node {
  type: string;
  value?: string;
  children?: Node[];
  data?: { hName?: string; hProperties?: Record<string, unknown> };
}

function remarkChatSubset(this: unknown) {
  // unified's processor: data() is its plugin-shared store, read by remark-parse.
  const data = (this as { data: () => { micromarkExtensions?: unknown[] } }).data();
  (data.micromarkExtensions ??= []).push({ disable: { null: DISABLED_CONSTRUCTS } });
}

export const MENTION_CLASS = "rounded bg-indigo-100 px-0.5 font-medium text-indigo-900";
export const OWN_MENTION_CLASS = "rounded bg-amber-200 px-0.5 font-semibold text-amber-950";

/** Marks "@Name" mentions in text (not in code or links) as <mark>; the reader's own name stands out. */
function remarkMentions(options: { names: readonly string[]; myName: string }) {
  const me = options.myName.toLowerCase();
  function walk(node: Node) {
    if (!node.children || node.type === "link") return;
    const out: Node[] = [];
    for (const child of node.children) {
      if (child.type !== "text" || !child.value?.includes("@")) {
        walk(child);
        out.push(child);
        continue;
      }
      for (const part of splitMentions(child.value, options.names)) {
        if (!part.mention) {
          out.push({ type: "text", value: part.text });
        } else {
          out.push({
            type: "emphasis",
            data: {
              hName: "mark",
              hProperties: { className: part.mention.toLowerCase() === me ? OWN_MENTION_CLASS : MENTION_CLASS },
            },
            children: [{ type: "text", value: part.text }],
          });
        }
      }
    }
    node.children = out;
  }
  return (tree: Node) => walk(tree);
}

function Link({ href, children, tabIndex }: ComponentProps<"a">) {
  if (!href) return <span>{children}</span>;
  return (
    <a href={href} target="_blank" rel={LINK_REL} tabIndex={tabIndex} className="text-indigo-700 underline [overflow-wrap:anywhere] hover:text-indigo-900">
      {children}
    </a>
  );
}

const components: Components = {
  p: ({ children }) => <p className="whitespace-pre-wrap">{children}</p>,
  code: ({ className, children }) => (
    <code className={`rounded bg-slate-100 px-1 font-mono text-[0.9em] text-slate-900 ${className ?? ""}`}>{children}</code>
  ),
  // Wrapped rather than scrolled: a scrolling block would be one more tab stop per message.
  pre: ({ children }) => (
    <pre className="my-1 whitespace-pre-wrap rounded bg-slate-100 p-2 font-mono text-sm [overflow-wrap:anywhere] [&>code]:bg-transparent [&>code]:p-0">
      {children}
    </pre>
  ),
  blockquote: ({ children }) => <blockquote className="my-1 border-l-4 border-slate-300 pl-2 text-slate-700">{children}</blockquote>,
};

/** The options of react-markdown for chat text (exported for the tests); `tabIndex` goes on every link. */
export function markdownOptions(names: readonly string[] = [], myName = "", tabIndex?: number): Options {
  return {
    remarkPlugins: [remarkGfm, remarkChatSubset, [remarkMentions, { names, myName }]],
    allowedElements: [...ALLOWED_ELEMENTS],
    unwrapDisallowed: true,
    skipHtml: false,
    urlTransform: safeUrl,
    components: { ...components, a: ({ href, children }) => <Link href={href} tabIndex={tabIndex}>{children}</Link> },
  };
}

const NO_NAMES: readonly string[] = [];

/** Text that needs no parsing: no markup character, no address, no mention. */
const PLAIN = /^[^*_`~>@:\\&\n]*$/;

/** Chat text as safe formatted content (see the top of this file). */
export function ChatMarkdown({
  text,
  names = NO_NAMES,
  myName = "",
  tabIndex,
}: {
  text: string;
  names?: readonly string[];
  myName?: string;
  tabIndex?: number;
}) {
  const options = useMemo(() => markdownOptions(names, myName, tabIndex), [names, myName, tabIndex]);
  if (PLAIN.test(text) && !/www\./i.test(text)) return <p className="whitespace-pre-wrap">{text}</p>;
  return <Markdown {...options}>{text}</Markdown>;
}
