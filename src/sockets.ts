/**
 * The channel object's view of its subscribers' hibernatable WebSockets. What the object
 * must remember about a socket survives hibernation in the socket itself: a tag set when
 * it was accepted (`live`: live from the start, the usual case) and, for one that began
 * with a replay, an attachment with its cursor (`serializeAttachment`, ≤ 16 KiB,
 * ../shared/PLATFORM.md). The in-memory map is only a cache, built on first use after the
 * object wakes, so a wake-up that only stores an event reads no attachment at all.
 */

/** `replaying`: catching up from the log at the Worker's request; `live`: gets every publish. */
export type SocketState = { mode: 'live' } | { mode: 'replaying'; cursor: number };

/** What a replaying socket's attachment holds; `cursor: null` once it went live. */
interface Attachment {
  v: 1;
  cursor: number | null;
}

const LIVE_TAG = 'live';
const REPLAY_TAG = 'replay';

export class Sockets {
  #cache: Map<WebSocket, SocketState> | null = null;

  constructor(private readonly ctx: DurableObjectState) {}

  /** Every subscriber's socket and state, read from the runtime once per wake-up. */
  get all(): Map<WebSocket, SocketState> {
    if (this.#cache) return this.#cache;
    const cache = new Map<WebSocket, SocketState>();
    for (const ws of this.ctx.getWebSockets(LIVE_TAG)) cache.set(ws, { mode: 'live' });
    for (const ws of this.ctx.getWebSockets(REPLAY_TAG)) {
      const att = ws.deserializeAttachment() as Attachment | null;
      if (att?.v === 1 && (att.cursor === null || Number.isSafeInteger(att.cursor))) {
        cache.set(ws, att.cursor === null ? { mode: 'live' } : { mode: 'replaying', cursor: att.cursor });
      } else {
        // Written by an object version that no longer exists: the Worker re-attaches.
        ws.close(4400, 'herald: unknown socket state, re-attach');
      }
    }
    this.#cache = cache;
    return cache;
  }

  get size(): number {
    return this.all.size;
  }

  /** Takes a subscriber's socket; hibernatable, so the object may sleep while it is open. */
  accept(ws: WebSocket, state: SocketState): void {
    const all = this.all;
    this.ctx.acceptWebSocket(ws, [state.mode === 'live' ? LIVE_TAG : REPLAY_TAG]);
    if (state.mode === 'replaying') ws.serializeAttachment({ v: 1, cursor: state.cursor } satisfies Attachment);
    all.set(ws, state);
  }

  get(ws: WebSocket): SocketState | undefined {
    return this.all.get(ws);
  }

  /** Moves a replaying socket on: to a later cursor, or live. */
  update(ws: WebSocket, state: SocketState): void {
    this.all.set(ws, state);
    ws.serializeAttachment({ v: 1, cursor: state.mode === 'live' ? null : state.cursor } satisfies Attachment);
  }

  delete(ws: WebSocket): void {
    this.all.delete(ws);
  }
}
