import { useRef, useState, type FormEvent, type ReactNode } from "react";
import { Link } from "react-router-dom";
import { api } from "../lib/api";
import { formErrors, type FormErrors } from "../lib/errors";
import { AlertText, Button, Card, PageTitle, inputClass, linkClass } from "../components/ui";

// The API's field names and the labels people see next to them.
const LABELS = { email: "Email", password: "Password", display_name: "Display name" } as const;
type FieldName = keyof typeof LABELS;

const NO_ERRORS: FormErrors = { fields: {}, form: null };

/** A labelled input with its hint and its own error, tied to it for screen readers (aria-describedby). */
function FormField({
  id,
  label,
  hint,
  error,
  children,
}: {
  id: string;
  label: string;
  hint?: string;
  error?: string;
  children: (describedBy: string | undefined, invalid: boolean) => ReactNode;
}) {
  const ids = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(" ");
  return (
    <div className="space-y-1">
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      {children(ids || undefined, Boolean(error))}
      {error && (
        <p id={`${id}-error`} className="text-sm font-medium text-red-700">
          {error}
        </p>
      )}
      {hint && (
        <p id={`${id}-hint`} className="text-xs text-slate-600">
          {hint}
        </p>
      )}
    </div>
  );
}

export default function SignupPage() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const inputs = useRef<Partial<Record<FieldName, HTMLInputElement | null>>>({});

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      await api("POST", "/auth/signup", { email: email.trim(), password, display_name: displayName.trim() });
      setSentTo(email.trim());
    } catch (err) {
      const found = formErrors(err, LABELS);
      setErrors(found);
      // Straight to the first field to fix (its error is read with it).
      const first = (Object.keys(LABELS) as FieldName[]).find((f) => f in found.fields);
      if (first) inputs.current[first]?.focus();
    } finally {
      setBusy(false);
    }
  }

  /** Typing in a field clears its error: it is about what was there before. */
  function edited(field: FieldName) {
    if (field in errors.fields) {
      setErrors((cur) => {
        const fields = { ...cur.fields };
        delete fields[field];
        return { ...cur, fields };
      });
    }
  }

  if (sentTo) {
    return (
      <div className="mx-auto max-w-md p-6">
        <Card>
          <PageTitle small>Check your email</PageTitle>
          <p className="mt-2 text-slate-700">
            We sent a verification link to <strong>{sentTo}</strong>. Open it to activate the account, then log in.
          </p>
          <p className="mt-4">
            <Link className={linkClass} to={`/dev/mailbox?email=${encodeURIComponent(sentTo)}`}>
              Open the dev mailbox
            </Link>
          </p>
        </Card>
      </div>
    );
  }

  const count = Object.keys(errors.fields).length;
  return (
    <div className="mx-auto max-w-md p-6">
      <Card>
        <PageTitle small className="mb-4">
          Create your account
        </PageTitle>
        <form onSubmit={(e) => void submit(e)} className="space-y-4" noValidate>
          <FormField id="signup-email" label={LABELS.email} error={errors.fields.email}>
            {(describedBy, invalid) => (
              <input
                id="signup-email"
                ref={(el) => {
                  inputs.current.email = el;
                }}
                type="email"
                autoComplete="email"
                required
                value={email}
                onChange={(e) => {
                  setEmail(e.target.value);
                  edited("email");
                }}
                aria-invalid={invalid || undefined}
                aria-describedby={describedBy}
                className={`${inputClass} aria-invalid:border-red-600`}
              />
            )}
          </FormField>
          <FormField
            id="signup-password"
            label={LABELS.password}
            hint="At least 10 characters."
            error={errors.fields.password}
          >
            {(describedBy, invalid) => (
              <input
                id="signup-password"
                ref={(el) => {
                  inputs.current.password = el;
                }}
                type="password"
                autoComplete="new-password"
                required
                minLength={10}
                value={password}
                onChange={(e) => {
                  setPassword(e.target.value);
                  edited("password");
                }}
                aria-invalid={invalid || undefined}
                aria-describedby={describedBy}
                className={`${inputClass} aria-invalid:border-red-600`}
              />
            )}
          </FormField>
          <FormField
            id="signup-name"
            label={LABELS.display_name}
            hint="How other members see you."
            error={errors.fields.display_name}
          >
            {(describedBy, invalid) => (
              <input
                id="signup-name"
                ref={(el) => {
                  inputs.current.display_name = el;
                }}
                type="text"
                autoComplete="nickname"
                required
                maxLength={50}
                value={displayName}
                onChange={(e) => {
                  setDisplayName(e.target.value);
                  edited("display_name");
                }}
                aria-invalid={invalid || undefined}
                aria-describedby={describedBy}
                className={`${inputClass} aria-invalid:border-red-600`}
              />
            )}
          </FormField>
          {count > 0 && (
            <p role="alert" className="sr-only">
              {count === 1 ? "One field needs fixing." : `${count} fields need fixing.`}
            </p>
          )}
          {errors.form && <AlertText>{errors.form}</AlertText>}
          <Button type="submit" disabled={busy} className="w-full">
            Sign up
          </Button>
        </form>
        <p className="mt-4 text-sm text-slate-600">
          Already have an account?{" "}
          <Link to="/login" className={linkClass}>
            Log in
          </Link>
        </p>
      </Card>
    </div>
  );
}
