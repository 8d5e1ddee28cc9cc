// A live session's audio in the browser: listen to the stage, or speak on it.
//
// The gateway hands out the way in (`live:join` → `audio`): the host and speakers join the session's
// AudioBridge room (the stage) with their own token and publish their microphone; everyone else watches
// the session's Streaming mountpoint, receive-only (it carries the stage's mix). Which one this member
// may use is the server's call and Janus enforces it; this client only follows: it asks `live:join` for
// fresh credentials every time it (re)connects, so a new role or a re-keyed stream is picked up.
//
// `LiveAudio` keeps one connection in the mode it is asked for ("off", "listen", "stage") and comes back
// on its own, with backoff, when the connection drops (a network change, Janus hanging up after a
// demotion or a re-key) for as long as that mode is still wanted. Audio starts only from a click (the
// browsers' autoplay rules), and the microphone is asked for only when joining the stage.
import { useCallback, useEffect, useState } from "react";

import { JanusError, JanusSession, type HandleEvent, type JanusHandle } from "./janus";
import { call, useSocket } from "./socket";

export interface AudioCredentials {
  janus_url: string;
  /** The stage (AudioBridge room) and this member's participant id and token on it (speakers only). */
  room: number;
  participant_id: number;
  stage_token?: string;
  can_speak: boolean;
  /** Janus's own token auth. */
  token: string;
  /** The listening stream (Streaming mountpoint) and its PIN. */
  stream: number;
  pin: string;
}

export interface AudioGrant {
  audio: AudioCredentials | null;
  audio_unavailable?: string;
}

export type AudioMode = "off" | "listen" | "stage";

export type AudioStatus =
  | { kind: "off" }
  | { kind: "connecting"; mode: AudioMode }
  | { kind: "on"; mode: "listen" | "stage" }
  | { kind: "reconnecting"; reason: string; inMs: number }
  | { kind: "unavailable"; reason: string };

export interface AudioCallbacks {
  credentials: () => Promise<AudioGrant>;
  status: (status: AudioStatus) => void;
  /** A stage participant started or stopped talking (Janus's audio-level events; on the stage only). */
  talking: (userId: number, talking: boolean) => void;
}

const RETRY_MS = [500, 1000, 2000, 4000, 8000, 15000];

/** The next wait after `attempt` failed connections in a row. */
export function retryDelay(attempt: number): number {
  return RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
}

/** The mode a member can use: the stage only with the right to speak, else listening. */
export function usableMode(wanted: "listen" | "stage", canSpeak: boolean): "listen" | "stage" {
  return wanted === "stage" && !canSpeak ? "listen" : wanted;
}

export class LiveAudio {
  private wanted: AudioMode = "off";
  private mode: AudioMode = "off";
  private session: JanusSession | null = null;
  private pc: RTCPeerConnection | null = null;
  private handle: JanusHandle | null = null;
  private mic: MediaStream | null = null;
  private running = false;
  private again = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private generation = 0;
  muted = false;
  /** Where the received audio plays: an element of its own, outside the page's tree (nothing to show). */
  readonly output: HTMLAudioElement = new Audio();

  constructor(private cb: AudioCallbacks) {
    this.output.autoplay = true;
  }

  /** Called from the click that turns audio on: that gesture lets the page play sound (autoplay rules). */
  unlock() {
    void this.output.play().catch(() => undefined);
  }

  get connectedMode(): AudioMode {
    return this.mode;
  }

  /** The receiving PeerConnection's inbound audio level (0–1), for a level meter. */
  async level(): Promise<number> {
    const pc = this.pc;
    if (!pc) return 0;
    let level = 0;
    (await pc.getStats()).forEach((s: { type?: string; kind?: string; audioLevel?: number }) => {
      if (s.type === "inbound-rtp" && s.kind === "audio" && typeof s.audioLevel === "number") level = s.audioLevel;
    });
    return level;
  }

  want(mode: AudioMode) {
    this.wanted = mode;
    this.attempt = 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.kick();
  }

  /** Reconnect in the mode wanted (after a role change: the credentials say what is allowed now). */
  refresh() {
    if (this.wanted === "off") return;
    this.teardown();
    this.kick();
  }

  async setMuted(muted: boolean) {
    this.muted = muted;
    for (const track of this.mic?.getAudioTracks() ?? []) track.enabled = !muted;
    if (this.mode === "stage" && this.handle) {
      try {
        await this.handle.send({ request: "configure", muted });
      } catch {
        /* the connection is going: the next one starts with this setting */
      }
    }
  }

  stop() {
    this.wanted = "off";
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.teardown();
    this.cb.status({ kind: "off" });
  }

  private kick() {
    if (this.running) {
      this.again = true;
      return;
    }
    void this.run();
  }

  private async run() {
    this.running = true;
    try {
      do {
        this.again = false;
        if (this.wanted === "off") {
          this.teardown();
          this.cb.status({ kind: "off" });
        } else if (this.wanted !== this.mode || !this.pc) {
          this.teardown();
          await this.connect(this.wanted);
        }
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  private async connect(wanted: "listen" | "stage") {
    const generation = ++this.generation;
    this.cb.status({ kind: "connecting", mode: wanted });
    try {
      const grant = await this.cb.credentials();
      if (generation !== this.generation) return;
      if (!grant.audio) {
        this.wanted = "off";
        this.cb.status({ kind: "unavailable", reason: grant.audio_unavailable ?? "Audio is not available." });
        return;
      }
      const creds = grant.audio;
      const mode = usableMode(wanted, creds.can_speak);
      const session = await JanusSession.connect(creds.janus_url, creds.token);
      if (generation !== this.generation) {
        session.close();
        return;
      }
      this.session = session;
      session.onClose = () => this.lost(generation, "the audio connection was lost");
      const pc = (this.pc = new RTCPeerConnection({ iceServers: [] }));
      pc.ontrack = (e) => {
        this.output.srcObject = e.streams[0] ?? new MediaStream([e.track]);
        void this.output.play().catch(() => undefined);
      };
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "failed") this.lost(generation, "the network dropped");
      };
      if (mode === "stage") await this.joinStage(session, pc, creds, generation);
      else await this.listen(session, pc, creds, generation);
      if (generation !== this.generation) return;
      this.mode = mode;
      this.attempt = 0;
      this.cb.status({ kind: "on", mode });
    } catch (err) {
      if (generation !== this.generation) return;
      const reason = err instanceof Error ? err.message : "audio failed";
      this.lost(generation, reason);
    }
  }

  private watchHandle(handle: JanusHandle, pc: RTCPeerConnection, generation: number, onEvent?: (e: HandleEvent) => void) {
    this.handle = handle;
    pc.onicecandidate = (e) => handle.trickle(e.candidate ? e.candidate.toJSON() : null);
    handle.on((e) => {
      if (e.kind === "hangup" || e.kind === "detached") this.lost(generation, "the audio server hung up");
      else onEvent?.(e);
    });
  }

  private async listen(session: JanusSession, pc: RTCPeerConnection, creds: AudioCredentials, generation: number) {
    const handle = await session.attach("janus.plugin.streaming");
    this.watchHandle(handle, pc, generation, (e) => {
      const result = e.kind === "event" ? (e.data.result as { status?: string } | undefined) : undefined;
      if (result?.status === "stopped") this.lost(generation, "the stream stopped");
    });
    const watched = await handle.send({ request: "watch", id: creds.stream, pin: creds.pin });
    if (!watched.jsep) throw new JanusError(0, "the stream sent no offer");
    await pc.setRemoteDescription(watched.jsep);
    await pc.setLocalDescription(await pc.createAnswer());
    await handle.send({ request: "start" }, pc.localDescription!.toJSON());
  }

  private async joinStage(session: JanusSession, pc: RTCPeerConnection, creds: AudioCredentials, generation: number) {
    const mic = (this.mic = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      video: false,
    }));
    for (const track of mic.getAudioTracks()) {
      track.enabled = !this.muted;
      pc.addTrack(track, mic);
    }
    const handle = await session.attach("janus.plugin.audiobridge");
    this.watchHandle(handle, pc, generation, (e) => {
      if (e.kind !== "event") return;
      const event = e.data.audiobridge;
      if (event === "talking" || event === "stopped-talking") this.cb.talking(Number(e.data.id), event === "talking");
      else if (event === "destroyed" || e.data.kicked === creds.participant_id) this.lost(generation, "you left the stage");
    });
    await handle.send({
      request: "join",
      room: creds.room,
      id: creds.participant_id,
      token: creds.stage_token,
      muted: this.muted,
    });
    await pc.setLocalDescription(await pc.createOffer());
    const configured = await handle.send({ request: "configure", muted: this.muted }, pc.localDescription!.toJSON());
    if (!configured.jsep) throw new JanusError(0, "the stage sent no answer");
    await pc.setRemoteDescription(configured.jsep);
  }

  /** The connection of `generation` ended without being asked to: come back while audio is wanted. */
  private lost(generation: number, reason: string) {
    if (generation !== this.generation) return;
    this.teardown();
    if (this.wanted === "off") return;
    const inMs = retryDelay(this.attempt++);
    this.cb.status({ kind: "reconnecting", reason, inMs });
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, inMs);
  }

  private teardown() {
    this.generation++;
    this.mode = "off";
    this.handle = null;
    if (this.pc) {
      this.pc.ontrack = null;
      this.pc.onicecandidate = null;
      this.pc.onconnectionstatechange = null;
      this.pc.close();
      this.pc = null;
    }
    for (const track of this.mic?.getTracks() ?? []) track.stop();
    this.mic = null;
    if (this.session) {
      this.session.onClose = null;
      this.session.close();
      this.session = null;
    }
    this.output.srcObject = null;
  }
}

export interface LiveAudioView {
  status: AudioStatus;
  muted: boolean;
  /** Stage participants talking now (user ids), from Janus's audio levels. */
  talking: ReadonlySet<number>;
  /** The level (0–1) of what this member hears, sampled a few times a second while audio is on. */
  level: number;
  /** The member may speak but listens: the host invited them to the stage. */
  invited: boolean;
  join: () => void;
  leave: () => void;
  startSpeaking: () => void;
  setMuted: (muted: boolean) => void;
}

/** A live session's audio for a member with `role`, while the session is `live`. */
export function useLiveAudio(eventId: number, role: "host" | "speaker" | "audience" | null, live: boolean): LiveAudioView {
  const [status, setStatus] = useState<AudioStatus>({ kind: "off" });
  const [muted, setMutedState] = useState(false);
  const [talking, setTalking] = useState<ReadonlySet<number>>(new Set());
  const [level, setLevel] = useState(0);
  const [markTalking] = useState(() => (userId: number, on: boolean) =>
    setTalking((prev) => {
      if (prev.has(userId) === on) return prev;
      const next = new Set(prev);
      if (on) next.add(userId);
      else next.delete(userId);
      return next;
    }),
  );
  const [audio] = useState(
    () =>
      new LiveAudio({
        credentials: () => call<AudioGrant>("live:join", { event_id: eventId }),
        status: setStatus,
        talking: markTalking,
      }),
  );

  // Who is talking on the stage, for everyone in the session (Janus's audio levels, relayed by the
  // server), whether or not this member has joined the audio.
  const socket = useSocket();
  useEffect(() => {
    if (!socket) return;
    const onSpeaking = (p: { event_id?: unknown; user_id?: unknown; speaking?: unknown }) => {
      if (p?.event_id === eventId && typeof p.user_id === "number") markTalking(p.user_id, p.speaking === true);
    };
    socket.on("live:speaking", onSpeaking);
    return () => {
      socket.off("live:speaking", onSpeaking);
    };
  }, [socket, eventId, markTalking]);

  useEffect(() => () => audio.stop(), [audio]);

  // The session ended, or this member was taken out of it: every connection closes.
  useEffect(() => {
    if (!live) audio.stop();
  }, [live, audio]);

  // Demoted while on the stage: back to listening (Janus has already taken them off it). A promoted
  // listener is invited (below) and joins the stage with a click, when ready to be heard.
  useEffect(() => {
    if (role === "audience" && audio.connectedMode === "stage") audio.want("listen");
  }, [role, audio]);

  const on = status.kind === "on" ? status.mode : null;
  useEffect(() => {
    if (on === null) return;
    const timer = setInterval(() => void audio.level().then(setLevel), 250);
    return () => {
      clearInterval(timer);
      setLevel(0);
    };
  }, [on, audio]);

  const join = useCallback(() => {
    audio.unlock();
    audio.want(role === "host" || role === "speaker" ? "stage" : "listen");
  }, [audio, role]);
  const leave = useCallback(() => audio.want("off"), [audio]);
  const startSpeaking = useCallback(() => audio.want("stage"), [audio]);
  const setMuted = useCallback(
    (m: boolean) => {
      setMutedState(m);
      void audio.setMuted(m);
    },
    [audio, setMutedState],
  );

  const canSpeak = role === "host" || role === "speaker";
  return { status, muted, talking, level, invited: canSpeak && on === "listen", join, leave, startSpeaking, setMuted };
}
