import type { ButtonHTMLAttributes, ReactNode } from "react";
import { errorMessage } from "../lib/errors";

const FOCUS = "focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-1";

export const inputClass =
  "w-full rounded border border-slate-300 bg-white px-3 py-2 text-slate-900 shadow-sm placeholder:text-slate-400 " +
  "focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200 disabled:bg-slate-100";

export const linkClass = `text-indigo-700 underline-offset-2 hover:underline ${FOCUS}`;

type Variant = "primary" | "secondary" | "ghost" | "danger";

const VARIANTS: Record<Variant, string> = {
  primary: "bg-indigo-600 text-white hover:bg-indigo-700 disabled:bg-indigo-300",
  secondary: "border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 disabled:text-slate-400",
  ghost: "text-slate-600 hover:bg-slate-100 hover:text-slate-900 disabled:text-slate-300",
  danger: "text-red-700 hover:bg-red-50 disabled:text-red-300",
};

export function buttonClass(variant: Variant = "primary", small = false): string {
  const size = small ? "px-2 py-0.5 text-xs" : "px-4 py-2 text-sm";
  return `inline-flex items-center justify-center gap-1 rounded font-medium ${size} ${VARIANTS[variant]} ${FOCUS} disabled:cursor-not-allowed`;
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

/** An error as a readable sentence in a role="alert" element (nothing for null). */
export function ErrorAlert({ error, children, className = "" }: { error: unknown; children?: ReactNode; className?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <div role="alert" className={`rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 ${className}`}>
      {errorMessage(error)}
      {children}
    </div>
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

export function Loading({ label = "Loading…" }: { label?: string }) {
  return <p className="p-4 text-slate-500">{label}</p>;
}
