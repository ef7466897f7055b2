/**
 * A relay: a Durable Object that serves up to RELAY_SIZE of a hot channel's subscribers
 * near them, so that the channel's own object (the root) sends each event once per relay
 * instead of once per subscriber (docs/scale.md). To the root, a relay is one more socket
 * (protocol.ts, attached `as=relay`); to its subscribers' Workers, it is the channel: the
 * same attach, the same messages, byte for byte, so neither a subscriber nor its Worker can
 * tell which serves it.
 *
 * The relay's socket to the root is its own outgoing WebSocket, which never hibernates: a
 * relay with subscribers stays awake (docs/cost.md says what that costs and why). It
 * remembers nothing across restarts: a restarted relay's Workers re-attach with their
 * cursors, and it reads the root's log for anything older than its tail.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Env, RelayRead } from './channel';
import { readConfig, type Config } from './config';
import { errorResponse } from './errors';
import { parseChannel } from './input';
import { ChannelLink, attach, attachTo, type Attached } from './link';
import {
  CLOSE_DELETED,
  CLOSE_PROTOCOL,
  CLOSE_TOO_SLOW,
  LAST_ID_HEADER,
  PING,
  PONG,
  PROTOCOL_VERSION,
  RELAY_KEY,
  VERSION_HEADER,
  countMessage,
  encodeMessage,
  parseRequest,
  type ReceivedMessage,
} from './protocol';
import { rootStub } from './route';
import { SSE_HEADERS, UNAVAILABLE_RETRY_MS, encodeRetryOnly } from './sse';
import { REPLAY_STEP_BYTES } from './channel';
import { addStats, attachStats, emptyRelayedStats, isEmpty, isOpened, type RelayedStats } from './stats';
import { Tail } from './tail';
import { closeQuietly, sendQuietly } from './ws';

/**
 * Payload bytes of the root's recent messages kept for resuming subscribers: at 1 KiB an
 * event, the last thousand or so, what a subscriber that reconnects within a few seconds
 * of a busy channel's traffic needs.
 */
export const TAIL_BYTES = 1024 * 1024;
/** A relay tells the root its subscriber count at most this often, and only when it changed. */
export const REPORT_MS = 2000;
/** A relay left with no subscriber keeps its socket to the root this long, then goes away. */
export const LINGER_MS = 10_000;
/**
 * The first re-attach window of a relay's socket to the root, which then doubles up to
 * 30 s (link.ts): after a root restart, 1,000 relays come back over about 5 s, some 200
 * a second, well under the root's ~1,000 requests a second (docs/platform.md).
 */
export const RELAY_REATTACH_BASE_MS = 5000;

/** A subscriber's socket at the relay. */
type Subscriber =
  | { mode: 'live' }
  /** Catching up, one step per `more`; `reading`: a read of the root's log is on its way. */
  | { mode: 'replaying'; cursor: number; reading: boolean }
  /** Ahead of the relay (it came from the root or another relay): served once the relay gets there. */
  | { mode: 'waiting'; cursor: number };

const SSE_TEXT = { 'Content-Type': SSE_HEADERS['Content-Type'] };

export class Relay extends DurableObject<Env> {
  readonly #config: Config;
  /** Which channel and key this relay is: set by the first attach, checked on every other. */
  #identity: { channel: string; key: string } | null = null;
  #root: ChannelLink | null = null;
  #connecting: Promise<Attached['kind']> | null = null;
  readonly #tail = new Tail(TAIL_BYTES);
  readonly #subscribers = new Map<WebSocket, Subscriber>();
  #reported = 0;
  /** What this relay counted for its subscribers since its last report to the root (stats.ts). */
  #counted: RelayedStats = emptyRelayedStats();
  #report: ReturnType<typeof setTimeout> | undefined;
  #linger: ReturnType<typeof setTimeout> | undefined;
  #keepAlive: ReturnType<typeof setInterval> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = readConfig(env);
    // The Workers' keep-alive, answered by the runtime.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    // Sockets from before a restart have no state here: their Workers re-attach with their cursors.
    for (const ws of ctx.getWebSockets()) closeQuietly(ws, 1012, 'herald: relay restarted, re-attach');
  }

  /** Subscribers this relay serves now (tests, diagnostics); the root hears of it within REPORT_MS. */
  get served(): number {
    return this.#subscribers.size;
  }

  /**
   * Attach from a subscriber's Worker (route.ts): `GET /attach?v=1&as=relayed&channel=…&key=…
   * &after=<id>` with `Upgrade: websocket`. Answers as the root would: 101, 204 while the
   * channel is deleted, 503 channel_full when this relay has RELAY_SIZE subscribers.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.headers.get('Upgrade') !== 'websocket' || url.searchParams.get('v') !== String(PROTOCOL_VERSION)) {
      return new Response(encodeRetryOnly(UNAVAILABLE_RETRY_MS, 'unavailable'), { status: 200, headers: SSE_TEXT });
    }
    const identity = this.#identify(url);
    if (identity === null) return errorResponse('forbidden', 'herald: a relay is attached to only by its own channel and key.');
    const afterParam = url.searchParams.get('after');
    const after = afterParam === null ? null : Number(afterParam);
    if (after !== null && !(Number.isSafeInteger(after) && after >= 0)) {
      return errorResponse('invalid_last_event_id', 'after must be a whole number ≥ 0.');
    }
    if (this.#subscribers.size >= this.#config.relaySize) return this.#full();
    const root = await this.#connect(identity);
    if (root === 'closed') return new Response(null, { status: 204 });
    // Beyond the channel's capacity: the Worker asks the root for a relay that is not.
    if (root === 'full') return this.#full();
    if (root !== 'open' || this.#root === null) {
      return errorResponse('unavailable', 'herald: the relay cannot reach its channel now.', { 'Retry-After': '1' });
    }
    // Checked again: other subscribers may have come while this one waited for the root.
    if (this.#subscribers.size >= this.#config.relaySize) return this.#full();
    const { 0: client, 1: server } = new WebSocketPair();
    // Through the hibernation API, as the root's sockets: the runtime's path for plain
    // accepted sockets cost ten times the CPU per message (docs/relays-bench.md).
    this.ctx.acceptWebSocket(server);
    const cursor = this.#root.cursor;
    const opened = url.searchParams.get('opened');
    // A new stream: its backlog is at most up to the relay's cursor, the rest comes live.
    // Its backlog as the relay can bound it: what the root's log keeps at most.
    const backlog = after === null ? 0 : Math.min(cursor - after, this.#config.historyMaxEvents);
    if (isOpened(opened)) this.#counted = addStats(this.#counted, attachStats(opened, backlog));
    if (after === null || after === cursor) {
      this.#subscribers.set(server, { mode: 'live' });
    } else {
      this.#subscribers.set(server, { mode: 'replaying', cursor: after, reading: false });
      this.#step(server);
    }
    this.#changed();
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: { [VERSION_HEADER]: String(PROTOCOL_VERSION), [LAST_ID_HEADER]: String(cursor) },
    });
  }

  #identify(url: URL): { channel: string; key: string } | null {
    const key = url.searchParams.get('key') ?? '';
    let channel: string;
    try {
      channel = parseChannel(url.searchParams.get('channel') ?? '');
    } catch {
      return null;
    }
    if (url.searchParams.get('as') !== 'relayed' || !RELAY_KEY.test(key)) return null;
    this.#identity ??= { channel, key };
    return this.#identity.channel === channel && this.#identity.key === key ? this.#identity : null;
  }

  #full(): Response {
    return errorResponse('channel_full', `herald: this relay serves ${this.#config.relaySize} subscribers (RELAY_SIZE).`);
  }

  /** Opens the socket to the root once; every attach that comes meanwhile waits for the same one. */
  #connect(identity: { channel: string; key: string }): Promise<Attached['kind']> {
    if (this.#root) return Promise.resolve('open');
    this.#connecting ??= (async () => {
      const root = () => rootStub(this.env, identity.channel);
      // Every attach says the count, so the root has it right after a re-attach too.
      const params = () => {
        this.#reported = this.#subscribers.size;
        return { as: 'relay', key: identity.key, count: this.#reported } as const;
      };
      const result = await attach(root(), null, params());
      this.#connecting = null;
      if (result.kind === 'relay') return 'unavailable';
      if (result.kind !== 'open') return result.kind;
      const link = new ChannelLink(attachTo(root, params), result.socket, result.lastId, RELAY_REATTACH_BASE_MS);
      this.#root = link;
      this.#tail.clear();
      link.bind({
        message: (message) => this.#fromRoot(message),
        deleted: (close) => this.#deleted(close),
        // The relay takes a replay from the root as fast as it comes: its subscribers pace themselves.
        wantsMore: () => true,
      });
      this.#keepAlive = setInterval(() => link.keepAlive(), this.#config.heartbeatMs);
      return 'open';
    })();
    return this.#connecting;
  }

  /** A message from the root, continuing from the relay's cursor: kept, and sent on. */
  #fromRoot(message: ReceivedMessage): void {
    if (message.payload.byteLength === 0) return;
    const { after, last, gap } = message;
    // A replay step from the root (after a re-attach) goes to live subscribers as a live message.
    const wire = message.kind === 'events' ? message.wire : encodeMessage({ kind: 'events', gap, after, last }, [message.payload]);
    if (last > after) this.#tail.push({ after, last, gap, payload: message.payload, wire });
    for (const [ws, sub] of this.#subscribers) {
      if (sub.mode === 'live') {
        if (gap) this.#counted.gaps++;
        if (!sendQuietly(ws, wire)) this.#drop(ws);
      } else if (sub.mode === 'waiting' && sub.cursor <= last) {
        this.#subscribers.set(ws, { mode: 'replaying', cursor: sub.cursor, reading: false });
        this.#step(ws);
      }
    }
    if (gap) this.#changed();
  }

  /**
   * Sends a replaying subscriber its next step: from the tail when an entry begins at its
   * cursor, else from the root's log up to the relay's cursor. It turns live in the same
   * turn as it reaches the relay's cursor, so no message from the root falls in between.
   */
  #step(ws: WebSocket): void {
    const sub = this.#subscribers.get(ws);
    const root = this.#root;
    if (sub?.mode !== 'replaying' || sub.reading || root === null) return;
    const cursor = sub.cursor;
    if (cursor === root.cursor) {
      this.#send(ws, cursor, cursor, false, []);
      return;
    }
    const fromTail = this.#tail.after(cursor, REPLAY_STEP_BYTES);
    if (fromTail) {
      this.#send(ws, cursor, fromTail.last, fromTail.gap, fromTail.payloads);
      return;
    }
    sub.reading = true;
    void this.#readRoot(ws, cursor, root.cursor);
  }

  async #readRoot(ws: WebSocket, cursor: number, until: number): Promise<void> {
    const identity = this.#identity!;
    let read: RelayRead;
    try {
      read = await rootStub(this.env, identity.channel).relayRead(cursor, until);
    } catch {
      // The root is restarting: the subscriber's Worker re-attaches, later, from its cursor.
      this.#drop(ws, 1011, 'herald: the channel is unavailable');
      return;
    }
    const sub = this.#subscribers.get(ws);
    if (sub?.mode !== 'replaying' || sub.cursor !== cursor || this.#root === null) return;
    sub.reading = false;
    switch (read.kind) {
      case 'closed':
        return this.#drop(ws, CLOSE_DELETED, 'herald: channel deleted');
      case 'ahead':
        // The relay may have got there while the read was on its way: then serve it now.
        if (cursor <= this.#root.cursor) return this.#step(ws);
        this.#subscribers.set(ws, { mode: 'waiting', cursor });
        return;
      case 'step':
        if (read.last === cursor && !read.gap) return this.#drop(ws, 1011, 'herald: no progress, re-attach');
        return this.#send(ws, cursor, read.last, read.gap, [read.bytes]);
    }
  }

  /** One replay step: `caught_up` (and live from now) when it reaches the relay's cursor. */
  #send(ws: WebSocket, after: number, last: number, gap: boolean, payloads: Uint8Array[]): void {
    if (gap) {
      this.#counted.gaps++;
      this.#changed();
    }
    const live = last === this.#root?.cursor;
    this.#subscribers.set(ws, live ? { mode: 'live' } : { mode: 'replaying', cursor: last, reading: false });
    if (!sendQuietly(ws, encodeMessage({ kind: live ? 'caught_up' : 'replay', gap, after, last }, payloads))) this.#drop(ws);
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    if (!this.#subscribers.has(ws)) {
      closeQuietly(ws, 1012, 'herald: relay restarted, re-attach');
      return;
    }
    const request = parseRequest(message);
    // Only a relay's own socket may report a count, and that is to the root.
    if (!request.ok || request.type !== 'more') {
      this.#drop(ws, CLOSE_PROTOCOL, `herald: ${request.ok ? 'a subscriber sends no count' : request.reason}`);
      return;
    }
    this.#step(ws);
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    // The edge cut this subscriber off as too slow.
    if (code === CLOSE_TOO_SLOW && this.#subscribers.has(ws)) this.#counted.cut++;
    this.#drop(ws, 1000, 'herald: closed');
  }

  override webSocketError(ws: WebSocket): void {
    this.#drop(ws);
  }

  /** Lets a subscriber's socket go (closing it, when a code is given). */
  #drop(ws: WebSocket, code?: number, reason = ''): void {
    if (code !== undefined) closeQuietly(ws, code, reason);
    if (this.#subscribers.delete(ws)) this.#changed();
  }

  /** The channel was deleted: every subscriber gets its `close` event, then the relay is done. */
  #deleted(close: Uint8Array): void {
    const cursor = this.#root?.cursor ?? 0;
    const message = encodeMessage({ kind: 'close', gap: false, after: cursor, last: cursor }, [close]);
    for (const ws of this.#subscribers.keys()) {
      sendQuietly(ws, message);
      closeQuietly(ws, CLOSE_DELETED, 'herald: channel deleted');
    }
    this.#subscribers.clear();
    // What was counted for the deleted channel must not reach the next one's counters.
    this.#counted = emptyRelayedStats();
    this.#shutDown();
  }

  /**
   * The subscriber count changed: report it soon, with what was counted meanwhile (every
   * new subscriber is a change, so a count comes with it), and go away when nobody is left.
   */
  #changed(): void {
    this.#report ??= setTimeout(() => {
      this.#report = undefined;
      const count = this.#subscribers.size;
      if ((count === this.#reported && isEmpty(this.#counted)) || this.#root === null) return;
      // While re-attaching, the socket is down: try again (the re-attach also says the count).
      if (this.#root.notify(countMessage(count, this.#counted))) {
        this.#reported = count;
        this.#counted = emptyRelayedStats();
      } else {
        this.#changed();
      }
    }, REPORT_MS);
    clearTimeout(this.#linger);
    this.#linger = this.#subscribers.size === 0 ? setTimeout(() => this.#shutDown(), LINGER_MS) : undefined;
  }

  /** Lets go of the root and every timer: with no subscriber and nothing pending, the relay is evicted. */
  #shutDown(): void {
    this.#root?.dispose();
    this.#root = null;
    this.#tail.clear();
    this.#reported = 0;
    for (const timer of [this.#report, this.#linger]) clearTimeout(timer);
    clearInterval(this.#keepAlive);
    this.#report = this.#linger = this.#keepAlive = undefined;
  }
}
