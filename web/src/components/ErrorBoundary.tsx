import { Component, type ErrorInfo, type ReactNode } from "react";
import { errorMessage } from "../lib/errors";

interface Props {
  children: ReactNode;
  /** A change of this value clears the error (e.g. the route). */
  resetKey?: unknown;
}

interface State {
  error: unknown;
  hasError: boolean;
  resetKey: unknown;
}

/** Shows a failed screen's error instead of a blank page. */
export class ErrorBoundary extends Component<Props, State> {
  state: State = { error: null, hasError: false, resetKey: this.props.resetKey };

  static getDerivedStateFromError(error: unknown): Partial<State> {
    return { error, hasError: true };
  }

  static getDerivedStateFromProps(props: Props, state: State): Partial<State> | null {
    if (props.resetKey !== state.resetKey) return { resetKey: props.resetKey, error: null, hasError: false };
    return null;
  }

  componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error("screen failed", error, info.componentStack);
  }

  render() {
    if (!this.state.hasError) return this.props.children;
    return (
      <div className="mx-auto max-w-xl p-6">
        <div role="alert" className="rounded border border-red-300 bg-red-50 p-4 text-red-800">
          <h1 tabIndex={-1} className="text-lg font-semibold">
            This screen failed.
          </h1>
          <p className="mt-1 text-sm">{errorMessage(this.state.error)}</p>
        </div>
        <button
          type="button"
          onClick={() => window.location.reload()}
          className="mt-4 rounded border border-slate-300 bg-white px-4 py-2 text-sm hover:bg-slate-100 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
        >
          Reload the page
        </button>
      </div>
    );
  }
}
