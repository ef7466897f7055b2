/**
 * The Durable Object that owns one channel: its subscribers' stream writers, the id
 * sequence and replay log (through {@link EventLog}), heartbeats and retention.
 * Protocol work lives in sse.ts and log.ts; this class only wires them to streams.
 */
import { DurableObject } from 'cloudflare:workers';
import { readConfig, type Config, type ConfigEnv } from './config';
import { errorResponse } from './errors';
import { EventLog, type StoredEvent } from './log';
import { HEARTBEAT, encodeClose, encodeEvent, encodeGap, encodeOpening, idText } from './sse';

export interface Env extends ConfigEnv {
  CHANNEL: DurableObjectNamespace<Channel>;
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

/** The 201 body of API.md, kept as JSON text so that a replay answers it byte for byte. */
export type PublishOutcome =
  | { kind: 'published'; body: string }
  | { kind: 'replayed'; body: string }
  | { kind: 'key_reused' };

export interface ChannelInfo {
  channel: string;
  lastEventId: string | null;
  oldestId: string | null;
  retained: number;
  subscribers: number;
}

export interface HistoryPage {
  events: Array<{ id: string; event: string; data: string; time: string }>;
  lastEventId: string | null;
  oldestId: string | null;
}

/**
 * `replaying`: catching up from the log at the pace of its reader, not yet sent live
 * events; `live`: gets every publish as it happens; `gone`: removed, never written again.
 */
type SubscriberState = 'replaying' | 'live' | 'gone';

interface Subscriber {
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  state: SubscriberState;
  /** When bytes were last written, for heartbeats (ms since the epoch). */
  lastWrite: number;
}

/**
 * Bytes a subscriber's stream takes before `writer.ready` waits: replay writes stop
 * here until the reader takes them, so a long backlog never sits in memory at once.
 */
const STREAM_HIGH_WATER_BYTES = 64 * 1024;
/** Rows read from the log per replay step. */
const REPLAY_BATCH = 100;
/** A heartbeat due this close to a timer firing is sent now rather than by another timer. */
const HEARTBEAT_SLACK_MS = 100;

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  // no-transform keeps proxies (and Cloudflare) from compressing or buffering the stream.
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
} as const;

const ignore = (): void => {};

export class Channel extends DurableObject<Env> {
  readonly #config: Config;
  readonly #log: EventLog;
  readonly #subscribers = new Set<Subscriber>();
  #heartbeat: ReturnType<typeof setTimeout> | undefined;
  /** The alarm that is set, or null; every retained item expires at or after it. */
  #alarmAt: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = readConfig(env);
    this.#log = new EventLog(ctx.storage.sql);
    void ctx.blockConcurrencyWhile(async () => {
      this.#alarmAt = await ctx.storage.getAlarm();
    });
  }

  /** Subscribe: `GET /?after=<id>` (after absent: live only). Answers the SSE stream. */
  override async fetch(request: Request): Promise<Response> {
    const afterParam = new URL(request.url).searchParams.get('after');
    const after = afterParam === null ? null : Number(afterParam);
    if (this.#log.closed) return new Response(null, { status: 204 });
    if (this.#subscribers.size >= this.#config.maxSubscribers) {
      return errorResponse(
        'channel_full',
        `This channel has ${this.#config.maxSubscribers} subscribers, its limit (MAX_SUBSCRIBERS). Retry later.`,
        { 'Retry-After': '10' },
      );
    }
    this.#prune();
    const stream = new TransformStream<Uint8Array, Uint8Array>(
      undefined,
      new ByteLengthQueuingStrategy({ highWaterMark: STREAM_HIGH_WATER_BYTES }),
    );
    const sub: Subscriber = { writer: stream.writable.getWriter(), state: 'replaying', lastWrite: 0 };
    // A reader that went away errors the stream: that, not an event, is how we learn it.
    sub.writer.closed.then(() => this.#drop(sub), () => this.#drop(sub));
    this.#subscribers.add(sub);
    this.#startHeartbeat();
    this.#write(sub, encodeOpening(this.#config.retryMs, after === null ? this.#log.lastId : null));

    if (after === null) {
      sub.state = 'live';
    } else {
      let cursor = after;
      if (after > this.#log.lastId) {
        // An id we never issued: say so, then send everything retained (API.md, "Gap").
        this.#write(sub, this.#gapAfter(after));
        cursor = 0;
      }
      // Runs synchronously up to its first wait, so the first rows are read in this turn.
      void this.#replay(sub, cursor);
    }
    return new Response(stream.readable, { status: 200, headers: SSE_HEADERS });
  }

  /**
   * Sends the log after `cursor` in batches, waiting for the reader between writes, and
   * turns the subscriber live in the same synchronous turn as the read that found
   * nothing more: no event falls between replay and live, and none comes twice.
   */
  async #replay(sub: Subscriber, cursor: number): Promise<void> {
    try {
      for (;;) {
        if (sub.state !== 'replaying') return;
        if (this.#isMissingAfter(cursor)) {
          this.#write(sub, this.#gapAfter(cursor));
        }
        const batch = this.#log.after(cursor, REPLAY_BATCH);
        if (batch.length === 0) {
          sub.state = 'live';
          return;
        }
        for (const event of batch) {
          this.#write(sub, encodeEvent(event));
          cursor = event.id;
          if ((sub.writer.desiredSize ?? 0) <= 0) await sub.writer.ready;
          if (sub.state !== 'replaying') return;
        }
      }
    } catch {
      this.#drop(sub);
    }
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
        return seen.fingerprint === idempotency.fingerprint
          ? { kind: 'replayed', body: seen.response }
          : { kind: 'key_reused' };
      }
    }
    // No await from here to the return: the inserts commit as one transaction, and the
    // output gate holds the frames and the reply until that transaction is durable.
    const stored = this.#log.append(input.events, now);
    const body = JSON.stringify({
      channel: input.channel,
      ids: stored.map((e) => String(e.id)),
      subscribers: this.#subscribers.size,
    });
    if (idempotency) {
      this.#log.remember(idempotency.key, { fingerprint: idempotency.fingerprint, response: body }, now + this.#config.idempotencyTtlMs);
    }
    this.#log.trim(this.#config.historyMaxEvents);
    this.#ensureAlarm(Math.min(now + this.#config.historyMaxAgeMs, idempotency ? now + this.#config.idempotencyTtlMs : Infinity));
    this.#broadcast(stored);
    return { kind: 'published', body };
  }

  info(channel: string): ChannelInfo {
    this.#prune();
    return {
      channel,
      lastEventId: idText(this.#log.latestId),
      oldestId: idText(this.#log.oldestId()),
      retained: this.#log.retained(),
      subscribers: this.#subscribers.size,
    };
  }

  history(after: number, limit: number): HistoryPage {
    this.#prune();
    return {
      events: this.#log.after(after, limit).map((e) => ({
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
    this.#log.close();
    const close = encodeClose('deleted');
    for (const sub of this.#subscribers) {
      if (sub.state !== 'gone') void sub.writer.write(close).catch(ignore);
      void sub.writer.close().catch(ignore);
      this.#drop(sub);
    }
  }

  override alarm(): void {
    this.#alarmAt = null;
    this.#prune();
  }

  /** Enforces retention now and keeps the alarm set for the next expiry. */
  #prune(): void {
    const next = this.#log.prune(
      { maxEvents: this.#config.historyMaxEvents, maxAgeMs: this.#config.historyMaxAgeMs },
      Date.now(),
    );
    if (next !== null) this.#ensureAlarm(next);
  }

  #ensureAlarm(at: number): void {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    void this.ctx.storage.setAlarm(at);
  }

  /** One encoding per event, the same bytes to every live subscriber; none is awaited. */
  #broadcast(events: readonly StoredEvent[]): void {
    if (this.#subscribers.size === 0) return;
    const frames = events.map(encodeEvent);
    for (const sub of this.#subscribers) {
      if (sub.state !== 'live' || !this.#keepsUp(sub)) continue;
      for (const frame of frames) this.#write(sub, frame);
    }
  }

  /**
   * False, after cutting it off, for a subscriber that still has more than
   * MAX_BUFFERED_BYTES unsent from earlier writes: it resumes from the log when it
   * reconnects. Checked before a publish's frames, not after, so a reader that keeps up
   * is never cut by one batch larger than the limit; the queued frames are the objects
   * shared by all subscribers, so one subscriber's queue holds at most the limit plus
   * one publish's frames.
   */
  #keepsUp(sub: Subscriber): boolean {
    const desired = sub.writer.desiredSize;
    if (desired !== null && STREAM_HIGH_WATER_BYTES - desired <= this.#config.maxBufferedBytes) return true;
    if (desired !== null) {
      // Erroring the stream (not closing it) frees the queued bytes now and makes the
      // client see a broken stream, so EventSource reconnects with its Last-Event-ID.
      void sub.writer.abort(new Error('subscriber too slow: over MAX_BUFFERED_BYTES unsent')).catch(ignore);
    }
    this.#drop(sub);
    return false;
  }

  #write(sub: Subscriber, bytes: Uint8Array): void {
    sub.lastWrite = Date.now();
    // A failed write also rejects writer.closed, which drops the subscriber.
    void sub.writer.write(bytes).catch(ignore);
  }

  #drop(sub: Subscriber): void {
    sub.state = 'gone';
    this.#subscribers.delete(sub);
    if (this.#subscribers.size === 0 && this.#heartbeat !== undefined) {
      clearTimeout(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  /** One timer for the whole channel, running only while someone is subscribed. */
  #startHeartbeat(): void {
    if (this.#heartbeat === undefined) this.#scheduleHeartbeat(this.#config.heartbeatMs);
  }

  #scheduleHeartbeat(delay: number): void {
    this.#heartbeat = setTimeout(() => this.#beat(), Math.max(delay, HEARTBEAT_SLACK_MS));
  }

  /** Writes `: heartbeat` to every stream silent for HEARTBEAT_SECONDS; those writes find dead readers. */
  #beat(): void {
    this.#heartbeat = undefined;
    const now = Date.now();
    const interval = this.#config.heartbeatMs;
    let next = Infinity;
    for (const sub of this.#subscribers) {
      if (sub.lastWrite + interval <= now + HEARTBEAT_SLACK_MS && this.#keepsUp(sub)) this.#write(sub, HEARTBEAT);
      if (sub.state !== 'gone') next = Math.min(next, sub.lastWrite + interval);
    }
    if (this.#subscribers.size > 0) this.#scheduleHeartbeat(next - now);
  }
}
