import type { ButtonHTMLAttributes, ReactNode } from "react";
import { Link } from "react-router-dom";
import { errorMessage } from "../lib/errors";

const FOCUS = "focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-1";

export const inputClass =
  "w-full rounded border border-slate-300 bg-white px-3 py-2 text-slate-900 shadow-sm placeholder:text-slate-400 " +
  "focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200 disabled:bg-slate-100";

/** A link in text: underlined (told apart by more than colour, WCAG 1.4.1). */
export const linkClass = `text-indigo-700 underline underline-offset-2 ${FOCUS}`;

type Variant = "primary" | "secondary" | "ghost" | "danger" | "critical";

const VARIANTS: Record<Variant, string> = {
  primary: "bg-indigo-600 text-white hover:bg-indigo-700 disabled:bg-indigo-300",
  secondary: "border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 disabled:text-slate-400",
  ghost: "text-slate-600 hover:bg-slate-100 hover:text-slate-900 disabled:text-slate-300",
  danger: "text-red-700 hover:bg-red-50 disabled:text-red-300",
  /** A weighty action (go live, end a session). */
  critical: "bg-red-600 text-white hover:bg-red-700 disabled:bg-red-300",
};

export function buttonClass(variant: Variant = "primary", small = false): string {
  const size = small ? "px-2 py-0.5 text-xs" : "px-4 py-2 text-sm";
  return `inline-flex items-center justify-center gap-1 rounded font-medium no-underline ${size} ${VARIANTS[variant]} ${FOCUS} disabled:cursor-not-allowed`;
}

export function Button({
  variant = "primary",
  small = false,
  className = "",
  type = "button",
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: Variant; small?: boolean }) {
  return <button type={type} className={`${buttonClass(variant, small)} ${className}`} {...rest} />;
}

/** An error as a readable sentence in a role="alert" element (nothing for null); `message` says it in
 * other words than `errorMessage`. */
export function ErrorAlert({
  error,
  message,
  children,
  className = "",
}: {
  error: unknown;
  message?: string;
  children?: ReactNode;
  className?: string;
}) {
  if (error === null || error === undefined) return null;
  return (
    <div role="alert" className={`rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 ${className}`}>
      {message ?? errorMessage(error)}
      {children}
    </div>
  );
}

/** A load that failed, with a button that tries it again. */
export function LoadError({ error, retry, className = "" }: { error: unknown; retry: () => void; className?: string }) {
  return (
    <ErrorAlert error={error} className={className}>
      <Button small variant="secondary" className="ml-2" onClick={retry}>
        Try again
      </Button>
    </ErrorAlert>
  );
}

/** A sentence in a role="alert" element that is no error object (an address that is not valid). */
export function AlertText({ children, className = "" }: { children: ReactNode; className?: string }) {
  return (
    <div role="alert" className={`rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 ${className}`}>
      {children}
    </div>
  );
}

/** A short confirmation ("Saved.") in a role="status" element. */
export function StatusText({ children, className = "" }: { children: ReactNode; className?: string }) {
  return (
    <p role="status" className={`text-sm text-green-800 ${className}`}>
      {children}
    </p>
  );
}

/** The heading of a screen (`small` on the narrow cards of signing up and in). */
export function PageTitle({
  children,
  id,
  small = false,
  className = "",
}: {
  children: ReactNode;
  id?: string;
  small?: boolean;
  className?: string;
}) {
  return (
    // tabIndex -1: focus moves here after a route change and with the skip link (App.tsx).
    <h1 id={id} tabIndex={-1} className={`${small ? "text-xl" : "text-2xl"} font-semibold ${className}`}>
      {children}
    </h1>
  );
}

/** The link back to where a screen belongs ("← Back to the event"). */
export function BackLink({ to, children }: { to: string; children: ReactNode }) {
  return (
    <Link to={to} className={`text-sm ${linkClass}`}>
      ← {children}
    </Link>
  );
}

type Tone = "live" | "info" | "success" | "muted" | "warning";

const TONES: Record<Tone, string> = {
  live: "bg-red-600 font-semibold text-white",
  info: "bg-indigo-100 text-indigo-800",
  success: "bg-emerald-100 text-emerald-800",
  muted: "bg-slate-200 text-slate-700",
  warning: "bg-amber-100 text-amber-900",
};

/** A small label next to a title or a name ("Live now", "Host", "Answered"). */
export function Badge({ tone, children, className = "" }: { tone: Tone; children: ReactNode; className?: string }) {
  return <span className={`rounded px-2 py-0.5 text-xs ${TONES[tone]} ${className}`}>{children}</span>;
}

/** A titled block of a screen, named for screen readers by its title. */
export function Panel({
  title,
  label,
  children,
  className = "",
}: {
  title: ReactNode;
  /** The accessible name when it differs from the title. */
  label?: string;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section aria-label={label ?? (typeof title === "string" ? title : undefined)} className={`rounded-lg border border-slate-200 bg-white p-4 ${className}`}>
      <h2 className="text-lg font-semibold">{title}</h2>
      {children}
    </section>
  );
}

export function Field({ label, id, children, hint }: { label: string; id: string; children: ReactNode; hint?: string }) {
  return (
    <div className="space-y-1">
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      {children}
      {hint && <p className="text-xs text-slate-500">{hint}</p>}
    </div>
  );
}

export function Card({ children, className = "" }: { children: ReactNode; className?: string }) {
  return <div className={`rounded-lg border border-slate-200 bg-white p-5 shadow-sm ${className}`}>{children}</div>;
}

export function Loading({ label = "Loading…", className = "p-4" }: { label?: string; className?: string }) {
  return <p className={`text-slate-500 ${className}`}>{label}</p>;
}
