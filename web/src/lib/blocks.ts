// The members the logged-in user blocked: `GET /me/blocks`, `POST /me/blocks {user_id}`,
// `DELETE /me/blocks/{user_id}`; the server's `blocks:changed` (a block made here or on another device)
// fetches the list again. Their messages in shared rooms are shown collapsed (lib/threads.ts isFromBlocked).
import { useEffect, useSyncExternalStore } from "react";
import { api } from "./api";
import { onSocket } from "./socket";

export interface BlockedMember {
  user_id: number;
  display_name: string;
  created_at?: string | null;
}

export interface BlocksState {
  /** null until the list has been loaded. */
  list: readonly BlockedMember[] | null;
  ids: ReadonlySet<number> | null;
  error: unknown;
}

const EMPTY: BlocksState = { list: null, ids: null, error: null };
let state: BlocksState = EMPTY;
const listeners = new Set<() => void>();

function emit(next: BlocksState): void {
  state = next;
  for (const l of listeners) l();
}

/** The state for a list (pure): ids follow the list. */
export function blocksState(list: readonly BlockedMember[]): BlocksState {
  return { list, ids: new Set(list.map((b) => b.user_id)), error: null };
}

/** The list of an answer of `GET /me/blocks` (tolerant of a server without display names). */
export function parseBlocks(body: unknown): BlockedMember[] {
  const raw = body && typeof body === "object" ? (body as { blocks?: unknown }).blocks : null;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((b): b is Record<string, unknown> => !!b && typeof b === "object" && typeof (b as { user_id?: unknown }).user_id === "number")
    .map((b) => ({
      user_id: b.user_id as number,
      display_name: typeof b.display_name === "string" ? b.display_name : `Member ${String(b.user_id)}`,
      created_at: typeof b.created_at === "string" ? b.created_at : null,
    }));
}

export async function loadBlocks(): Promise<void> {
  try {
    emit(blocksState(parseBlocks(await api<unknown>("GET", "/me/blocks"))));
  } catch (err) {
    emit({ ...state, error: err });
  }
}

export async function blockMember(userId: number, displayName: string): Promise<void> {
  await api("POST", "/me/blocks", { user_id: userId });
  const list = [...(state.list ?? []).filter((b) => b.user_id !== userId), { user_id: userId, display_name: displayName }];
  emit(blocksState(list));
}

export async function unblockMember(userId: number): Promise<void> {
  await api("DELETE", `/me/blocks/${userId}`);
  emit(blocksState((state.list ?? []).filter((b) => b.user_id !== userId)));
}

function subscribe(cb: () => void): () => void {
  listeners.add(cb);
  return () => listeners.delete(cb);
}

export function useBlocks(): BlocksState {
  return useSyncExternalStore(subscribe, () => state);
}

/** Loads the list for the login and follows `blocks:changed` (mount once, in the app's shell). */
export function useBlockEvents(userId: number | null): void {
  useEffect(() => {
    if (userId === null) {
      emit(EMPTY);
      return;
    }
    void loadBlocks();
    let off: (() => void) | null = null;
    const stop = onSocket((s) => {
      off?.();
      off = null;
      if (!s) return;
      const again = () => void loadBlocks();
      s.on("blocks:changed", again);
      s.on("connect", again);
      off = () => {
        s.off("blocks:changed", again);
        s.off("connect", again);
      };
    });
    return () => {
      stop();
      off?.();
    };
  }, [userId]);
}
