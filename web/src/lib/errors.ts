import { ApiError } from "./api";

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
