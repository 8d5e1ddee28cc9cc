import { ApiError } from "./api";
import { MAX_OPEN_QUESTIONS_PER_MEMBER, MAX_QUESTIONS_PER_SESSION, MAX_QUESTION_CHARS } from "./live";

function sentence(text: string): string {
  const t = text.trim();
  if (!t) return "";
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

function seconds(n: number): string {
  return n === 1 ? "1 second" : `${n} seconds`;
}

/** A readable sentence for any error: every contract error code, a network failure, anything else. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const detail = sentence(err.message);
    switch (err.code) {
      case "invalid":
        return detail ? `Please check what you entered: ${detail}` : "Please check what you entered.";
      case "unauthorized":
        return detail || "You are not logged in, or your session has ended. Please log in again.";
      case "forbidden":
        return detail ? `You are not allowed to do that: ${detail}` : "You are not allowed to do that.";
      case "email_unverified":
        return "Confirm your email address first: open the link we mailed you.";
      case "not_found":
        return detail ? `Not found: ${detail}` : "That does not exist (any more).";
      case "conflict":
        return detail || "That conflicts with something that already exists.";
      case "rate_limited":
        return err.retryAfter !== undefined
          ? `Too many attempts: please wait ${seconds(Math.max(1, Math.ceil(err.retryAfter)))} and try again.`
          : `Too many attempts: please wait a moment and try again.${detail ? ` (${detail})` : ""}`;
      case "too_large":
        return detail ? `That is too large: ${detail}` : "That is too large.";
      case "unavailable":
        return "The service is temporarily unavailable. Please try again in a moment.";
      case "network":
        return "Cannot reach the server. Check your connection and try again.";
      case "offline":
        return "You are offline. This will work again once the connection is back.";
      case "timeout":
        return "The server did not answer in time. Please try again.";
      case "internal":
        return "Something went wrong on the server. Please try again.";
      default:
        return detail || `Request failed (${err.code}).`;
    }
  }
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) {
    return "Cannot reach the server. Check your connection and try again.";
  }
  if (err instanceof Error) return sentence(err.message) || "Something went wrong.";
  if (typeof err === "string" && err) return sentence(err);
  return "Something went wrong.";
}

function waitSentence(err: ApiError): string {
  return err.retryAfter !== undefined
    ? `please wait ${seconds(Math.max(1, Math.ceil(err.retryAfter)))}`
    : "please wait a moment";
}

/**
 * A live-session action's error in the words of the session's limits: `live:ask` may be refused for the
 * member's open questions (5, `rate_limited`), a full session (200, `conflict`) or its length (500
 * characters, `too_large`); every `live:*` action is rate limited. `openQuestions` is how many of the
 * member's questions are still unanswered (a cap refusal and a rate refusal share the code).
 */
export function liveErrorMessage(action: string, err: unknown, openQuestions = 0): string {
  if (!(err instanceof ApiError)) return errorMessage(err);
  const asking = action === "live:ask";
  switch (err.code) {
    case "rate_limited":
      // The cap names itself in the message; a plain rate refusal carries its wait instead.
      if (asking && (/open question/i.test(err.message) ||
          (err.retryAfter === undefined && openQuestions >= MAX_OPEN_QUESTIONS_PER_MEMBER))) {
        return `You already have ${MAX_OPEN_QUESTIONS_PER_MEMBER} open questions. You can ask another once one of them is answered.`;
      }
      return `You are doing that too often: ${waitSentence(err)} and try again.`;
    case "conflict":
      // (`conflict` also says the session has ended: that message reads well as it is.)
      if (asking && /question/i.test(err.message)) {
        return `This session has reached its limit of ${MAX_QUESTIONS_PER_SESSION} questions: no more questions can be asked.`;
      }
      return errorMessage(err);
    case "too_large":
      if (asking) return `A question can be at most ${MAX_QUESTION_CHARS} characters long. Please shorten it.`;
      return errorMessage(err);
    case "forbidden":
      return "You can no longer take part in this live session.";
    default:
      return errorMessage(err);
  }
}

/** Why this member was taken out of a club's rooms and live sessions (`room:removed` / `live:removed`). */
export function removedMessage(reason: string | null | undefined): string {
  const r = (reason ?? "").toLowerCase();
  if (/\bleft\b|\bleave\b/.test(r)) return "You left this club, so its rooms and live sessions are closed to you.";
  return "You were removed from this club.";
}

/** Why the session ended, for the login page (`session:revoked` reasons, or an expiry that could not be
 * renewed). */
export function sessionEndedMessage(reason: string | null | undefined): string {
  switch (reason) {
    case "logout":
      return "You were logged out (in another tab or on another device). Please log in again.";
    case "revoked":
      return "Your session was ended for your security. Please log in again.";
    case "expired":
      return "Your session has expired. Please log in again.";
    default:
      return "Your session has ended. Please log in again.";
  }
}

/** What a form shows after a refusal: a sentence per field it names, and what belongs to no field. */
export interface FormErrors {
  fields: Record<string, string>;
  form: string | null;
}

// The API's 422 message lists each failing field as "<field>: <pydantic message>", joined by "; "
// (gateway/schemas/common.py describe_validation_error).
const FIELD_PART = /(?:^|;\s*)([a-z_][a-z0-9_]*)(?:\.[\w.]+)?:\s/g;

function fieldSentence(field: string, raw: string, labels: Record<string, string>): string {
  const text = raw.trim().replace(/^value error,\s*/i, "");
  const label = labels[field] ?? field.replace(/_/g, " ");
  let m: RegExpExecArray | null;
  if (/^field required$/i.test(text) || /at least 1 character/.test(text)) return `Enter your ${label.toLowerCase()}.`;
  if ((m = /at least (\d+) characters?/.exec(text))) return `Use at least ${m[1]} characters.`;
  if ((m = /at most (\d+) characters?/.exec(text))) return `Use at most ${m[1]} characters.`;
  if (/not a valid email address/i.test(text)) {
    const why = text.split(/not a valid email address:?\s*/i)[1];
    return `Enter an email address like name@example.com${why ? ` (${sentence(why).replace(/\.$/, "")})` : ""}.`;
  }
  return sentence(text);
}

/**
 * A refusal mapped to the form's fields: an `invalid` answer naming fields of `labels` (field name → the
 * label people see) gives one sentence per field; anything else (another code, a field the form does not
 * have) is the form's own error.
 */
export function formErrors(err: unknown, labels: Record<string, string>): FormErrors {
  if (!(err instanceof ApiError) || err.code !== "invalid") return { fields: {}, form: err == null ? null : errorMessage(err) };
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  const marks = [...err.message.matchAll(FIELD_PART)];
  if (marks.length === 0) return { fields, form: errorMessage(err) };
  if ((marks[0].index ?? 0) > 0) rest.push(err.message.slice(0, marks[0].index));
  marks.forEach((mark, i) => {
    const start = (mark.index ?? 0) + mark[0].length;
    const end = i + 1 < marks.length ? marks[i + 1].index : err.message.length;
    const text = err.message.slice(start, end);
    const field = mark[1];
    if (field in labels) {
      if (!(field in fields)) fields[field] = fieldSentence(field, text, labels);
    } else {
      rest.push(`${field}: ${text}`);
    }
  });
  const form = rest.length ? errorMessage(new ApiError(err.status, err.code, rest.join("; "))) : null;
  return { fields, form };
}
