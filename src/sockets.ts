/**
 * The channel object's view of its sockets: its direct subscribers' (from their Workers)
 * and its relays' (relay.ts). What the object must remember about a socket survives
 * hibernation in the socket itself: a tag set when it was accepted (`live`: a subscriber
 * live from the start, the usual case; `replay`: one that began with a replay; `relay`)
 * and, for a replaying subscriber or a relay, an attachment (`serializeAttachment`,
 * ≤ 16 KiB, docs/platform.md) with its cursor and, for a relay, its key and the
 * subscribers it last reported. The in-memory maps are only a cache, built on first use
 * after the object wakes, so a wake-up that only stores an event reads no attachment of a
 * live subscriber.
 */

/** `replaying`: catching up from the log at the Worker's request; `live`: gets every publish. */
export type SocketState = { mode: 'live' } | { mode: 'replaying'; cursor: number };

/** A relay as the root knows it: its key (`weur.0`) and how many subscribers it said it serves. */
export interface RelayPeer {
  key: string;
  count: number;
  /** When it attached: of two sockets of one relay (an old one still closing), the newer is the relay's. */
  since: number;
}

/** What a socket's attachment holds; `cursor: null` once it is live. */
interface Attachment {
  v: 1;
  cursor: number | null;
  relay?: RelayPeer;
}

const LIVE_TAG = 'live';
const REPLAY_TAG = 'replay';
const RELAY_TAG = 'relay';

export class Sockets {
  #cache: Map<WebSocket, SocketState> | null = null;
  #relays = new Map<WebSocket, RelayPeer>();

  constructor(private readonly ctx: DurableObjectState) {}

  /** Every socket, relays included, and its state, read from the runtime once per wake-up. */
  get all(): Map<WebSocket, SocketState> {
    if (this.#cache) return this.#cache;
    const cache = new Map<WebSocket, SocketState>();
    for (const ws of this.ctx.getWebSockets(LIVE_TAG)) cache.set(ws, { mode: 'live' });
    for (const tag of [REPLAY_TAG, RELAY_TAG]) {
      for (const ws of this.ctx.getWebSockets(tag)) {
        const att = ws.deserializeAttachment() as Attachment | null;
        const valid = att?.v === 1 && (att.cursor === null || Number.isSafeInteger(att.cursor)) && (tag === REPLAY_TAG || att.relay !== undefined);
        if (!valid) {
          // Written by an object version that no longer exists: the Worker or relay re-attaches.
          ws.close(4400, 'herald: unknown socket state, re-attach');
          continue;
        }
        if (att.relay) {
          // A relay's socket that is still closing, or replaced since: not the relay's any more.
          if (ws.readyState !== WebSocket.OPEN) continue;
          const other = this.#byKey(att.relay.key);
          const older = other && this.#relays.get(other)!.since >= att.relay.since ? ws : other;
          if (older) {
            older.close(1000, 'herald: replaced by the relay');
            cache.delete(older);
            this.#relays.delete(older);
            if (older === ws) continue;
          }
          this.#relays.set(ws, att.relay);
        }
        cache.set(ws, att.cursor === null ? { mode: 'live' } : { mode: 'replaying', cursor: att.cursor });
      }
    }
    this.#cache = cache;
    return cache;
  }

  #byKey(key: string): WebSocket | undefined {
    for (const [ws, relay] of this.#relays) if (relay.key === key) return ws;
    return undefined;
  }

  /** The relays' sockets, each with what it last reported. */
  get relays(): Map<WebSocket, RelayPeer> {
    void this.all;
    return this.#relays;
  }

  /** Subscribers this object serves itself. */
  get direct(): number {
    return this.all.size - this.relays.size;
  }

  /** Everyone: direct subscribers and what every relay last reported. */
  get subscribers(): number {
    let n = this.direct;
    for (const relay of this.relays.values()) n += relay.count;
    return n;
  }

  /** Relays serving at least one subscriber, by their last report. */
  get serving(): number {
    let n = 0;
    for (const relay of this.relays.values()) if (relay.count > 0) n++;
    return n;
  }

  /** Takes a socket; hibernatable, so the object may sleep while it is open. */
  accept(ws: WebSocket, state: SocketState, relay?: RelayPeer): void {
    const all = this.all;
    this.ctx.acceptWebSocket(ws, [relay ? RELAY_TAG : state.mode === 'live' ? LIVE_TAG : REPLAY_TAG]);
    all.set(ws, state);
    if (relay) this.#relays.set(ws, relay);
    if (relay || state.mode === 'replaying') this.#save(ws);
  }

  get(ws: WebSocket): SocketState | undefined {
    return this.all.get(ws);
  }

  /** Moves a replaying socket on: to a later cursor, or live. */
  update(ws: WebSocket, state: SocketState): void {
    this.all.set(ws, state);
    this.#save(ws);
  }

  /** A relay's new report of how many subscribers it serves. */
  report(ws: WebSocket, count: number): void {
    const relay = this.relays.get(ws);
    if (!relay) return;
    relay.count = count;
    this.#save(ws);
  }

  /** The socket of the relay with this key, if it is attached. */
  relay(key: string): WebSocket | undefined {
    void this.all;
    return this.#byKey(key);
  }

  delete(ws: WebSocket): void {
    this.all.delete(ws);
    this.#relays.delete(ws);
  }

  #save(ws: WebSocket): void {
    const state = this.all.get(ws);
    if (!state) return;
    const relay = this.#relays.get(ws);
    ws.serializeAttachment({ v: 1, cursor: state.mode === 'live' ? null : state.cursor, ...(relay && { relay }) } satisfies Attachment);
  }
}
