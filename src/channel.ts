/**
 * The Durable Object that owns one channel: the id sequence and replay log (through
 * {@link EventLog}), retention, idempotency, delete, and its subscribers' sockets from the
 * edge (sockets.ts). Protocol work lives in sse.ts, protocol.ts and log.ts; this class
 * only wires them together.
 */
import { DurableObject } from 'cloudflare:workers';
import { readConfig, type Config, type ConfigEnv } from './config';
import { errorResponse } from './errors';
import { EventLog, type StoredEvent } from './log';
import { Placement } from './placement';
import {
  CLOSE_DELETED,
  CLOSE_PROTOCOL,
  CLOSE_TOO_SLOW,
  LAST_ID_HEADER,
  PING,
  PONG,
  PROTOCOL_VERSION,
  RELAY_HEADER,
  RELAY_KEY,
  RELAYS_HEADER,
  RELAY_STATUS,
  REMEMBER_HEADER,
  VERSION_HEADER,
  encodeMessage,
  parseRequest,
} from './protocol';
import { DEFAULT_REGION, isRegion, type Region } from './region';
import type { Relay } from './relay';
import { report } from './report';
import { Sockets, type RelayPeer } from './sockets';
import { addStats, attachStats, emptyStats, isEmpty, isOpened, type Stats } from './stats';
import { closeQuietly, sendQuietly } from './ws';
import { concat } from './bytes';
import { SSE_HEADERS, UNAVAILABLE_RETRY_MS, encodeClose, encodeEvent, encodeEvents, encodeGap, encodeRetryOnly, idText } from './sse';

export interface Env extends ConfigEnv {
  CHANNEL: DurableObjectNamespace<Channel>;
  RELAY: DurableObjectNamespace<Relay>;
  /** Optional: the Worker's data points (metrics.ts); without it, none are written. */
  METRICS?: AnalyticsEngineDataset;
}

/** An event a publisher sent, validated by the Worker: a name and UTF-8 text. */
export interface EventInput {
  event: string;
  data: string;
}

export interface PublishInput {
  channel: string;
  events: EventInput[];
  /** Present when the request carried an `Idempotency-Key`. */
  idempotency?: { key: string; fingerprint: string };
}

/** The 201 body of docs/api.md, kept as JSON text so that a replay answers it byte for byte. */
export type PublishOutcome = { kind: 'published'; body: string } | { kind: 'replayed'; body: string } | { kind: 'key_reused' };

export interface ChannelInfo {
  channel: string;
  lastEventId: string | null;
  oldestId: string | null;
  retained: number;
  subscribers: number;
  relays: number;
  stats: Stats;
}

/**
 * A relay's read of the log for one of its subscribers (relay.ts): the SSE bytes after
 * `after`, up to the relay's own cursor `until`; `ahead` when the subscriber is past the
 * relay but not past the log (the relay waits for its own socket to catch up).
 */
export type RelayRead = { kind: 'step'; gap: boolean; last: number; bytes: Uint8Array } | { kind: 'ahead' } | { kind: 'closed' };

export interface HistoryPage {
  events: Array<{ id: string; event: string; data: string; time: string }>;
  lastEventId: string | null;
  oldestId: string | null;
}

/**
 * Bytes of the log sent to a replaying subscriber per message, or one event when that
 * alone is larger: the most that is ever in flight between the object and the Worker for
 * one subscriber, since the Worker asks for the next step only once its reader has room.
 */
export const REPLAY_STEP_BYTES = 64 * 1024;
/** Rows read from the log per replay step (read lazily: rows not sent are not read). */
const REPLAY_BATCH = 100;
/**
 * Publishes that come within this long of the last broadcast wait for the rest of the
 * window and go out together, as one message per subscriber: the cost of a delivery is
 * mostly per message (docs/benchmarks.md), so a busy channel's subscribers get its events
 * in fewer, larger messages, at most this much later. A publish after a quiet spell goes
 * out at once. The timer exists only while a window is open, never between events.
 */
export const COALESCE_MS = 10;
/** How long a Worker may spread a region's new subscribers over its relays without asking (route.ts). */
export const REMEMBER_SECONDS = 30;
/** Where the root keeps how many relays it named per region (placement.ts). */
const NAMED_KEY = 'relays-named';
/** A JSON history page stops past this many bytes of data (RPC results are limited to 32 MiB). */
const HISTORY_PAGE_BYTES = 4 * 1024 * 1024;

const SSE_TEXT = { 'Content-Type': SSE_HEADERS['Content-Type'] };

/**
 * The channel holds no timer and no pending I/O between events: its subscribers are
 * hibernatable WebSockets from the edge Worker that holds their streams (sockets.ts), so a
 * quiet channel's object hibernates and is not billed while its subscribers stay connected
 * (docs/platform.md, "Only WebSockets hibernate"; Cloudflare, "Use WebSockets" →
 * "WebSocket Hibernation API"). It wakes for a publish, a subscribe, a replay step and the
 * retention alarm.
 */
export class Channel extends DurableObject<Env> {
  readonly #config: Config;
  readonly #log: EventLog;
  readonly #sockets: Sockets;
  /** The alarm that is set, or null; every retained item expires at or after it. */
  #alarmAt: number | null = null;
  /** Publishes stored but not yet sent to the live sockets, waiting for the window to close. */
  #unsent: (readonly StoredEvent[])[] = [];
  #window: ReturnType<typeof setTimeout> | undefined;
  #lastBroadcast = 0;
  /** Where subscribers past RELAY_AFTER go; in memory only: relays enforce their own size. */
  readonly #placement = new Placement();
  /** The relays named were read back from storage (once per instance, on the first attach). */
  #namedRead = false;
  /** The counters (stats.ts): read once, then written with every change (log.ts says where). */
  #stats: Stats;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = readConfig(env);
    this.#log = new EventLog(ctx.storage);
    this.#sockets = new Sockets(ctx);
    this.#stats = this.#log.stats();
    // The edge's keep-alive is answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
    void ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /**
   * Attach: `GET /attach?v=1&after=<id>` with `Upgrade: websocket` (after absent: live
   * only), from the edge Worker only (index.ts never forwards a client's request here).
   * Answers 101 with the socket, 204 while the channel is deleted, 503 channel_full.
   * Anything else, an older Worker's SSE subscribe included, gets a stream that only says
   * `retry` and ends: EventSource comes back (to a new Worker) instead of giving up.
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.headers.get('Upgrade') !== 'websocket' || url.searchParams.get('v') !== String(PROTOCOL_VERSION)) {
      return new Response(encodeRetryOnly(UNAVAILABLE_RETRY_MS, 'unavailable'), { status: 200, headers: SSE_TEXT });
    }
    const afterParam = url.searchParams.get('after');
    const after = afterParam === null ? null : Number(afterParam);
    if (after !== null && !(Number.isSafeInteger(after) && after >= 0)) {
      return errorResponse('invalid_last_event_id', 'after must be a whole number ≥ 0.');
    }
    const as = url.searchParams.get('as') ?? 'subscriber';
    const relayKey = url.searchParams.get('key');
    if (as === 'relay' && (relayKey === null || !RELAY_KEY.test(relayKey) || !isCount(url.searchParams.get('count')))) {
      return errorResponse('forbidden', 'herald: a relay attaches with its key and count.');
    }
    if (as !== 'relay' && as !== 'subscriber') return errorResponse('forbidden', `herald: the channel takes no '${as}' attach.`);
    if (!this.#namedRead) {
      this.#placement.restore(await this.ctx.storage.get(NAMED_KEY));
      this.#namedRead = true;
    }
    if (this.#log.closed) return new Response(null, { status: 204 });
    // Every stored event reaches the live sockets before a new socket reads the log: what
    // it replays is then never sent to it again as live.
    this.#flush();
    this.#prune();
    const { maxSubscribers, relayAfter, relaySize } = this.#config;
    // RELAY_AFTER direct and this many relays of RELAY_SIZE make at most MAX_SUBSCRIBERS.
    const maxRelays = Math.max(0, Math.floor((maxSubscribers - relayAfter) / relaySize));
    if (as === 'relay') return this.#attachRelay(relayKey!, Number(url.searchParams.get('count')), after, maxRelays);
    const full = url.searchParams.get('full');
    if (full !== null && RELAY_KEY.test(full)) this.#placement.refused(full);
    const param = url.searchParams.get('region') ?? '';
    const region = isRegion(param) ? param : DEFAULT_REGION;
    if (this.#sockets.direct >= Math.min(relayAfter, maxSubscribers)) return this.#placeOnRelay(region, maxRelays);
    const opened = url.searchParams.get('opened');
    // A new stream (not a re-attach): counted in this same turn, so it survives hibernation.
    if (isOpened(opened)) this.#count(attachStats(opened, this.#backlog(after)));
    return this.#accept(after, undefined, this.#spread(region, maxRelays));
  }

  /** A relay's own socket: one per relay, within the channel's capacity. */
  #attachRelay(key: string, count: number, after: number | null, maxRelays: number): Response {
    const named = this.#placement.total;
    // A relay beyond the capacity (MAX_SUBSCRIBERS lowered since it was named) serves nobody.
    if (!this.#placement.admits(key, maxRelays)) {
      return errorResponse('channel_full', `herald: relay ${key} is beyond this channel's capacity.`);
    }
    this.#saveNamed(named);
    // One that re-attaches replaces whatever is left of its old socket.
    const old = this.#sockets.relay(key);
    if (old) {
      this.#sockets.delete(old);
      closeQuietly(old, 1000, 'herald: replaced by the relay');
    }
    this.#placement.reported(key, Date.now());
    return this.#accept(after, { key, count, since: Date.now() });
  }

  /** A subscriber past RELAY_AFTER: the relay to go to (placement.ts), or channel_full. */
  #placeOnRelay(region: Region, maxRelays: number): Response {
    const { maxSubscribers, relaySize } = this.#config;
    const counts = new Map<string, number>();
    for (const relay of this.#sockets.relays.values()) counts.set(relay.key, relay.count);
    const named = this.#placement.total;
    const key = this.#placement.place(region, (k) => counts.get(k), relaySize, maxRelays, Date.now());
    if (key === null) {
      return errorResponse('channel_full', `This channel has ${maxSubscribers} subscribers, its limit (MAX_SUBSCRIBERS).`);
    }
    this.#saveNamed(named);
    // A relay of another region means the subscriber's own are full: nothing to spread over.
    const spread = key.startsWith(`${region}.`) ? this.#spread(region, maxRelays) : {};
    return new Response(null, { status: RELAY_STATUS, headers: { [VERSION_HEADER]: String(PROTOCOL_VERSION), [RELAY_HEADER]: key, ...spread } });
  }

  /** Keeps the relays named in storage when there are more than `before`: a restarted root must not name more than the capacity has. */
  #saveNamed(before: number): void {
    if (this.#placement.total > before) this.ctx.storage.put(NAMED_KEY, this.#placement.counts).catch(() => {});
  }

  /** Takes a subscriber's socket, or a relay's, live or replaying from `after`. */
  #accept(after: number | null, relay?: RelayPeer, spread: Record<string, string> = {}): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    const lastId = this.#log.lastId;
    if (after === null || after === lastId) {
      this.#sockets.accept(server, { mode: 'live' }, relay);
    } else {
      // The first replay step goes with the answer, in this same turn: a short backlog (the
      // usual reconnect) is caught up at once and the socket is live without a round trip.
      this.#sockets.accept(server, { mode: 'replaying', cursor: after }, relay);
      this.#replayStep(server, after, after > lastId);
    }
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: { [VERSION_HEADER]: String(PROTOCOL_VERSION), [LAST_ID_HEADER]: String(lastId), ...spread },
    });
  }

  /**
   * What a Worker may spread the region's next subscribers over without asking (route.ts):
   * its relays, said with every answer, a direct one too (after a restart the root serves
   * its first RELAY_AFTER itself while the relays still have room).
   */
  #spread(region: Region, maxRelays: number): Record<string, string> {
    const relays = this.#placement.allowed(maxRelays).get(region) ?? 0;
    return relays > 0 ? { [RELAYS_HEADER]: String(relays), [REMEMBER_HEADER]: String(REMEMBER_SECONDS) } : {};
  }

  /** The events a socket attaching after `after` will be replayed: what is retained after it. */
  #backlog(after: number | null): number {
    if (after === null) return 0;
    const lastId = this.#log.lastId;
    // An id never issued, or one whose events are gone: everything retained, after a gap.
    if (after > lastId || this.#isMissingAfter(after)) return this.#log.retained();
    // `0` (everything) asks for what is retained, not for every id ever issued.
    return Math.min(lastId - after, this.#log.retained());
  }

  /**
   * Adds to the counters and saves them, in the caller's turn. A failed save must not fail
   * the attach, close or replay that counted: the count stays in memory, and the next save
   * (each writes every counter) stores it.
   */
  #count(delta: Partial<Stats>): void {
    this.#stats = addStats(this.#stats, delta);
    try {
      this.#log.saveStats(this.#stats);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      report({ event: 'internal_error', route: 'saving the channel counters', code: 'internal_error', error: error.message, stack: error.stack });
    }
  }

  override webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
    const request = parseRequest(message);
    if (!request.ok) {
      closeQuietly(ws, CLOSE_PROTOCOL, `herald: ${request.reason}`);
      this.#sockets.delete(ws);
      return;
    }
    if (request.type === 'count') {
      const relay = this.#sockets.relays.get(ws);
      if (!relay) {
        closeQuietly(ws, CLOSE_PROTOCOL, 'herald: only a relay reports a count');
        this.#sockets.delete(ws);
        return;
      }
      this.#sockets.report(ws, request.n);
      this.#placement.reported(relay.key, Date.now());
      // What the relay counted for its subscribers since its last report.
      if (!isEmpty(request.stats)) this.#count(request.stats);
      return;
    }
    const state = this.#sockets.get(ws);
    // A `more` that crossed the last step's answer: nothing to do.
    if (state?.mode !== 'replaying') return;
    this.#flush();
    this.#replayStep(ws, state.cursor, false);
  }

  override webSocketClose(ws: WebSocket, code: number): void {
    // The edge cut this subscriber off as too slow (a relay's own socket is never cut).
    const cut = code === CLOSE_TOO_SLOW && this.#sockets.get(ws) !== undefined && !this.#sockets.relays.has(ws);
    this.#let(ws);
    if (cut) this.#count({ cut: 1 });
    // Complete the closing handshake (a no-op where the runtime already answered it).
    closeQuietly(ws, 1000, 'herald: closed');
  }

  override webSocketError(ws: WebSocket): void {
    this.#let(ws);
  }

  #let(ws: WebSocket): void {
    this.#sockets.delete(ws);
  }

  /**
   * Sends the log after `cursor`, up to {@link REPLAY_STEP_BYTES} (at least one event), as
   * one message. When it reaches the end of the log, the socket turns live in the same turn as the
   * read that found nothing more: no publish falls between replay and live, and none
   * comes twice (publish runs only between turns). `unissued`: the client asked for an id
   * never issued, so it gets a gap and everything retained.
   */
  #replayStep(ws: WebSocket, cursor: number, unissued: boolean): void {
    const step = this.#read(cursor, unissued, Infinity);
    // A relay's gaps are its subscribers' to count (it reports them).
    if (step.gap && !this.#sockets.relays.has(ws)) this.#count({ gaps: 1 });
    const kind = step.more ? 'replay' : 'caught_up';
    this.#sockets.update(ws, step.more ? { mode: 'replaying', cursor: step.last } : { mode: 'live' });
    sendQuietly(ws, encodeMessage({ kind, gap: step.gap, after: cursor, last: step.last }, step.parts));
  }

  /**
   * The log after `cursor` up to `until`, at most {@link REPLAY_STEP_BYTES} (at least one
   * event), with a `gap` first where events after `cursor` are no longer retained.
   * `unissued`: the client asked for an id never issued, so it gets a gap and everything
   * retained. `more`: there are events after `last`, up to `until`.
   */
  #read(cursor: number, unissued: boolean, until: number): { parts: Uint8Array[]; gap: boolean; last: number; more: boolean } {
    const parts: Uint8Array[] = [];
    let gap = false;
    let from = cursor;
    if (unissued) {
      parts.push(this.#gapAfter(cursor));
      gap = true;
      from = 0;
    } else if (this.#isMissingAfter(cursor)) {
      parts.push(this.#gapAfter(cursor));
      gap = true;
    }
    let size = 0;
    let read = 0;
    let more = false;
    for (const event of this.#log.after(from, REPLAY_BATCH)) {
      const bytes = encodeEvent(event);
      if (event.id > until || (read > 0 && size + bytes.byteLength > REPLAY_STEP_BYTES)) {
        more = event.id <= until;
        break;
      }
      parts.push(bytes);
      size += bytes.byteLength;
      from = event.id;
      read++;
    }
    if (read === REPLAY_BATCH && from < until) more = true;
    // Nothing read: the client has all there is up to the last id, after a gap or from 0
    // (which asks for whatever is retained, and so never gets a gap) when all expired.
    const upTo = Math.min(this.#log.lastId, until);
    const last = read > 0 ? from : gap ? upTo : Math.max(cursor, upTo);
    return { parts, gap, last, more };
  }

  /**
   * A relay's read for one of its subscribers (relay.ts), as {@link #read} gives a replaying
   * socket, bounded by what the relay itself has (`until`, its cursor), so that the
   * subscriber then continues from the relay's own messages.
   */
  relayRead(after: number, until: number): RelayRead {
    if (this.#log.closed) return { kind: 'closed' };
    const lastId = this.#log.lastId;
    if (after > until && after <= lastId) return { kind: 'ahead' };
    this.#flush();
    this.#prune();
    const step = this.#read(after, after > lastId, Math.min(until, lastId));
    return { kind: 'step', gap: step.gap, last: step.last, bytes: concat(step.parts) };
  }

  /** The `gap` event for a client whose last event is `cursor`. */
  #gapAfter(cursor: number): Uint8Array {
    return encodeGap({ lastEventId: cursor, oldestId: this.#log.oldestId(), latestId: this.#log.latestId });
  }

  /** True when events after `cursor` were issued but the oldest of them is no longer retained. */
  #isMissingAfter(cursor: number): boolean {
    if (cursor === 0 || cursor >= this.#log.lastId) return false;
    const oldest = this.#log.oldestId();
    return oldest === null || oldest > cursor + 1;
  }

  publish(input: PublishInput): PublishOutcome {
    const now = Date.now();
    const { idempotency } = input;
    if (idempotency) {
      const seen = this.#log.idempotency(idempotency.key, now);
      if (seen) {
        if (seen.fingerprint !== idempotency.fingerprint) return { kind: 'key_reused' };
        this.#count({ idempotentReplays: 1 });
        return { kind: 'replayed', body: seen.response };
      }
    }
    // No await from here to the return, and one transaction: all of a batch is stored or
    // none, and the output gate holds the frames and the reply until it is durable.
    // Derived deliveries: each event to everyone subscribed now, relays' subscribers included.
    const n = input.events.length;
    const stats = addStats(this.#stats, { published: n, publishRequests: 1, deliveries: n * this.#sockets.subscribers });
    const { stored, body } = this.#log.transaction(() => {
      // The counters ride on the last event's row: counting writes no row of its own.
      const events = this.#log.append(input.events, now, stats);
      const response = JSON.stringify({
        channel: input.channel,
        ids: events.map((e) => String(e.id)),
        subscribers: this.#sockets.subscribers,
      });
      if (idempotency) {
        this.#log.remember(idempotency.key, { fingerprint: idempotency.fingerprint, response }, now + this.#config.idempotencyTtlMs);
      }
      this.#log.trim(this.#config.historyMaxEvents);
      return { stored: events, body: response };
    });
    this.#stats = stats;
    this.#ensureAlarm(Math.min(now + this.#config.historyMaxAgeMs, idempotency ? now + this.#config.idempotencyTtlMs : Infinity));
    this.#queue(stored);
    return { kind: 'published', body };
  }

  info(channel: string): ChannelInfo {
    this.#prune();
    return {
      channel,
      lastEventId: idText(this.#log.latestId),
      oldestId: idText(this.#log.oldestId()),
      retained: this.#log.retained(),
      subscribers: this.#sockets.subscribers,
      relays: this.#sockets.serving,
      stats: { ...this.#stats },
    };
  }

  history(after: number, limit: number): HistoryPage {
    this.#prune();
    return {
      events: this.#log.page(after, limit, HISTORY_PAGE_BYTES).map((e) => ({
        id: String(e.id),
        event: e.event,
        data: e.data,
        time: new Date(e.time).toISOString(),
      })),
      lastEventId: idText(this.#log.latestId),
      oldestId: idText(this.#log.oldestId()),
    };
  }

  /** DELETE: every stream gets `event: close` and ends; the log and keys are purged. */
  remove(): void {
    this.#flush();
    this.#log.close();
    this.#stats = emptyStats();
    const close = encodeMessage({ kind: 'close', gap: false, after: this.#log.lastId, last: this.#log.lastId }, [encodeClose('deleted')]);
    for (const ws of this.#sockets.all.keys()) {
      sendQuietly(ws, close);
      closeQuietly(ws, CLOSE_DELETED, 'herald: channel deleted');
      this.#sockets.delete(ws);
    }
  }

  override alarm(): void {
    this.#alarmAt = null;
    this.#prune();
  }

  /** Enforces retention now and keeps the alarm set for the next expiry. */
  #prune(): void {
    const next = this.#log.prune({ maxEvents: this.#config.historyMaxEvents, maxAgeMs: this.#config.historyMaxAgeMs }, Date.now());
    if (next !== null) this.#ensureAlarm(next);
  }

  #ensureAlarm(at: number): void {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    this.ctx.storage.setAlarm(at).catch((err: unknown) => {
      // The alarm is only a backstop: reads prune too. Forget it so the next write retries.
      this.#alarmAt = null;
      console.error('setting the retention alarm failed', err);
    });
  }

  /** Sends a publish at once after a quiet spell, else with the others of its window. */
  #queue(events: readonly StoredEvent[]): void {
    // With nobody live there is nothing to send: a socket that attaches later reads the log.
    if (this.#sockets.all.size === 0) return;
    const now = Date.now();
    const wait = this.#lastBroadcast + COALESCE_MS - now;
    if (this.#unsent.length === 0 && wait <= 0) {
      this.#lastBroadcast = now;
      this.#broadcast([events]);
      return;
    }
    this.#unsent.push(events);
    this.#window ??= setTimeout(() => this.#flush(), Math.max(wait, 0));
  }

  #flush(): void {
    clearTimeout(this.#window);
    this.#window = undefined;
    if (this.#unsent.length === 0) return;
    const publishes = this.#unsent;
    this.#unsent = [];
    this.#lastBroadcast = Date.now();
    this.#broadcast(publishes);
  }

  /**
   * The publishes of one window encoded once, as one message, sent to every live socket;
   * none is awaited and none can delay another (outgoing WebSocket messages are queued by
   * the runtime, and slow subscribers are cut at the edge, where their streams are).
   * Relays first: each has a thousand subscribers waiting behind it and a longer way to go
   * (docs/scale.md).
   */
  #broadcast(publishes: readonly (readonly StoredEvent[])[]): void {
    const sockets = this.#sockets.all;
    if (sockets.size === 0) return;
    const after = publishes[0]![0]!.id - 1;
    const last = publishes.at(-1)!.at(-1)!.id;
    const message = encodeMessage({ kind: 'events', gap: false, after, last }, publishes.map(encodeEvents));
    const relays = this.#sockets.relays;
    for (const ws of relays.keys()) {
      if (sockets.get(ws)?.mode === 'live' && !sendQuietly(ws, message)) this.#sockets.delete(ws);
    }
    for (const [ws, state] of sockets) {
      if (state.mode === 'live' && !relays.has(ws) && !sendQuietly(ws, message)) this.#sockets.delete(ws);
    }
  }
}

const isCount = (text: string | null) => text !== null && /^(0|[1-9]\d{0,8})$/.test(text);
