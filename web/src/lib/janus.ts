// A small client of the Janus WebRTC Server's WebSocket API (the JSON protocol janus.js speaks), enough
// for a live session's audio: one Janus session, a handle on AudioBridge (the stage) or Streaming (the
// listening stream), requests matched to answers by transaction, plugin events to the handle, keepalives.
//
// Why not janus.js: it carries every plugin, transport and adapter.js (~170 kB) for what is here a
// few request shapes; the protocol itself is small and stable.

export class JanusError extends Error {
  constructor(
    readonly code: number,
    reason: string,
  ) {
    super(reason);
    this.name = "JanusError";
  }
}

export interface PluginAnswer {
  data: Record<string, unknown>;
  jsep?: RTCSessionDescriptionInit;
}

/** What a handle hears besides answers: plugin events, a hangup, or the handle going away. */
export type HandleEvent =
  | { kind: "event"; data: Record<string, unknown>; jsep?: RTCSessionDescriptionInit }
  | { kind: "hangup"; reason: string }
  | { kind: "detached" }
  | { kind: "webrtcup" };

type Message = Record<string, unknown> & { janus?: string; transaction?: string; sender?: number };

const KEEPALIVE_MS = 25_000; // Janus forgets a session after 60 s without a request
const REQUEST_TIMEOUT_MS = 10_000;

export class JanusHandle {
  private listeners = new Set<(e: HandleEvent) => void>();

  constructor(
    readonly session: JanusSession,
    readonly id: number,
  ) {}

  on(listener: (e: HandleEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @internal */
  emit(event: HandleEvent) {
    for (const listener of this.listeners) listener(event);
  }

  /** A plugin request (with an SDP when there is one); its answer, or JanusError. */
  async send(body: Record<string, unknown>, jsep?: RTCSessionDescriptionInit): Promise<PluginAnswer> {
    const answer = await this.session.request({ janus: "message", handle_id: this.id, body, ...(jsep ? { jsep } : {}) });
    const plugindata = (answer.plugindata ?? {}) as { data?: Record<string, unknown> };
    const data = plugindata.data ?? {};
    if (typeof data.error_code === "number") throw new JanusError(data.error_code, typeof data.error === "string" ? data.error : "error");
    return { data, jsep: answer.jsep as RTCSessionDescriptionInit | undefined };
  }

  trickle(candidate: RTCIceCandidateInit | null) {
    this.session.post({ janus: "trickle", handle_id: this.id, candidate: candidate ?? { completed: true } });
  }
}

export class JanusSession {
  private waiting = new Map<string, { resolve: (m: Message) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout> }>();
  private handles = new Map<number, JanusHandle>();
  private next = 0;
  private keepalive: ReturnType<typeof setInterval> | null = null;
  private id = 0;
  closed = false;
  /** Called once when the connection ends (closed here, or lost). */
  onClose: (() => void) | null = null;

  private constructor(
    private ws: WebSocket,
    private token: string,
  ) {
    ws.onmessage = (e) => this.receive(e.data);
    ws.onclose = () => this.ended();
    ws.onerror = () => this.ended();
  }

  /** Connects to `url`, creates a Janus session with `token` (Janus's own token auth). */
  static async connect(url: string, token: string): Promise<JanusSession> {
    const ws = new WebSocket(url, "janus-protocol");
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new JanusError(0, "the audio server cannot be reached"));
    });
    const session = new JanusSession(ws, token);
    try {
      const created = await session.request({ janus: "create" });
      session.id = Number((created.data as { id?: number } | undefined)?.id);
    } catch (err) {
      session.close();
      throw err;
    }
    session.keepalive = setInterval(() => session.post({ janus: "keepalive" }), KEEPALIVE_MS);
    return session;
  }

  async attach(plugin: string): Promise<JanusHandle> {
    const attached = await this.request({ janus: "attach", plugin });
    const handle = new JanusHandle(this, Number((attached.data as { id?: number } | undefined)?.id));
    this.handles.set(handle.id, handle);
    return handle;
  }

  /** A request whose answer (not its ack) resolves the promise. */
  request(message: Message): Promise<Message> {
    if (this.closed) return Promise.reject(new JanusError(0, "the audio connection is closed"));
    const transaction = `t${++this.next}`;
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(transaction);
        reject(new JanusError(0, "the audio server did not answer"));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(transaction, { resolve, reject, timer });
      this.ws.send(JSON.stringify(this.stamped(message, transaction)));
    });
  }

  /** A request whose answer nobody waits for (keepalive, trickle). */
  post(message: Message) {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify(this.stamped(message, `p${++this.next}`)));
  }

  private stamped(message: Message, transaction: string): Message {
    return { ...message, transaction, token: this.token, ...(this.id ? { session_id: this.id } : {}) };
  }

  private receive(raw: unknown) {
    let message: Message;
    try {
      message = JSON.parse(String(raw)) as Message;
    } catch {
      return;
    }
    const kind = message.janus;
    if (kind === "ack") return; // the answer (an event with the same transaction) follows
    const waiter = message.transaction ? this.waiting.get(message.transaction) : undefined;
    if (waiter) {
      this.waiting.delete(message.transaction!);
      clearTimeout(waiter.timer);
      if (kind === "error") {
        const error = (message.error ?? {}) as { code?: number; reason?: string };
        waiter.reject(new JanusError(error.code ?? 0, error.reason ?? "error"));
      } else {
        waiter.resolve(message);
      }
      return;
    }
    const handle = message.sender !== undefined ? this.handles.get(message.sender) : undefined;
    if (!handle) return;
    if (kind === "event") {
      const plugindata = (message.plugindata ?? {}) as { data?: Record<string, unknown> };
      handle.emit({ kind: "event", data: plugindata.data ?? {}, jsep: message.jsep as RTCSessionDescriptionInit | undefined });
    } else if (kind === "hangup") {
      handle.emit({ kind: "hangup", reason: typeof message.reason === "string" ? message.reason : "hangup" });
    } else if (kind === "detached") {
      this.handles.delete(handle.id);
      handle.emit({ kind: "detached" });
    } else if (kind === "webrtcup") {
      handle.emit({ kind: "webrtcup" });
    }
  }

  private ended() {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive !== null) clearInterval(this.keepalive);
    for (const { reject, timer } of this.waiting.values()) {
      clearTimeout(timer);
      reject(new JanusError(0, "the audio connection was lost"));
    }
    this.waiting.clear();
    for (const handle of this.handles.values()) handle.emit({ kind: "detached" });
    this.handles.clear();
    this.onClose?.();
  }

  close() {
    if (!this.closed && this.ws.readyState === WebSocket.OPEN && this.id) {
      // Janus tears the session (and its PeerConnections) down at once rather than on a timeout.
      this.ws.send(JSON.stringify(this.stamped({ janus: "destroy" }, `d${++this.next}`)));
    }
    this.ended();
    this.ws.close();
  }
}
