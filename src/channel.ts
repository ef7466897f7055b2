/**
 * The Durable Object that owns one channel: its subscribers' streams, the id
 * sequence and replay log (through {@link EventLog}), heartbeats and retention.
 * Protocol work lives in sse.ts and log.ts; this class only wires them to streams.
 */
import { DurableObject } from 'cloudflare:workers';
import { readConfig, type Config, type ConfigEnv } from './config';
import { errorResponse } from './errors';
import { EventLog, type StoredEvent } from './log';
import { HEARTBEAT, SSE_HEADERS, encodeClose, encodeEvent, encodeEvents, encodeGap, encodeOpening, idText } from './sse';
import { Subscriber } from './subscriber';

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
 * Bytes of the log replay reads ahead of a resuming subscriber's reader: a long backlog
 * never sits in memory at once.
 */
const REPLAY_READ_AHEAD_BYTES = 64 * 1024;
/** Rows read from the log per replay step (read lazily: rows not sent are not read). */
const REPLAY_BATCH = 100;
/** A heartbeat due this close to a timer firing is sent now rather than by another timer. */
const HEARTBEAT_SLACK_MS = 100;
/** A JSON history page stops past this many bytes of data (RPC results are limited to 32 MiB). */
const HISTORY_PAGE_BYTES = 4 * 1024 * 1024;

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
    this.#log = new EventLog(ctx.storage);
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
    const sub = new Subscriber(
      { pull: (s) => this.#replay(s), cancel: (s) => this.#drop(s) },
      REPLAY_READ_AHEAD_BYTES,
      after === null ? 'live' : 'replaying',
      after ?? 0,
    );
    this.#subscribers.add(sub);
    if (this.#heartbeat === undefined) this.#scheduleHeartbeat(this.#config.heartbeatMs);
    sub.send(encodeOpening(this.#config.retryMs, after === null ? this.#log.lastId : null));
    if (after !== null && after > this.#log.lastId) {
      // An id we never issued: say so, then send everything retained (API.md, "Gap").
      sub.send(this.#gapAfter(after));
      sub.cursor = 0;
    }
    // The first rows are read in this turn, with no await since the subscriber was added.
    sub.start();
    return new Response(sub.stream, { status: 200, headers: SSE_HEADERS });
  }

  /**
   * Sends the log after the subscriber's cursor while it may read ahead, and turns it
   * live in the same synchronous turn as the read that found nothing more: no event falls
   * between replay and live, and none comes twice. Called again each time the reader has
   * taken what was sent.
   */
  #replay(sub: Subscriber): void {
    while (sub.state === 'replaying' && sub.wantsMore) {
      if (this.#isMissingAfter(sub.cursor)) sub.send(this.#gapAfter(sub.cursor));
      let sent = 0;
      for (const event of this.#log.after(sub.cursor, REPLAY_BATCH)) {
        // At least one event per step, so that a gap is never sent twice for one cursor.
        if (sent > 0 && !sub.wantsMore) return;
        if (!sub.send(encodeEvent(event))) return;
        sub.cursor = event.id;
        sent++;
      }
      if (sent === 0) sub.state = 'live';
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
    // No await from here to the return, and one transaction: all of a batch is stored or
    // none, and the output gate holds the frames and the reply until it is durable.
    const { stored, body } = this.#log.transaction(() => {
      const events = this.#log.append(input.events, now);
      const response = JSON.stringify({
        channel: input.channel,
        ids: events.map((e) => String(e.id)),
        subscribers: this.#subscribers.size,
      });
      if (idempotency) {
        this.#log.remember(idempotency.key, { fingerprint: idempotency.fingerprint, response }, now + this.#config.idempotencyTtlMs);
      }
      this.#log.trim(this.#config.historyMaxEvents);
      return { stored: events, body: response };
    });
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
    this.#log.close();
    const close = encodeClose('deleted');
    for (const sub of this.#subscribers) {
      sub.send(close);
      sub.end();
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
    this.ctx.storage.setAlarm(at).catch((err: unknown) => {
      // The alarm is only a backstop: reads prune too. Forget it so the next write retries.
      this.#alarmAt = null;
      console.error('setting the retention alarm failed', err);
    });
  }

  /** The publish encoded once, as one chunk, queued to every live subscriber; none is awaited. */
  #broadcast(events: readonly StoredEvent[]): void {
    if (this.#subscribers.size === 0) return;
    const chunk = encodeEvents(events);
    for (const sub of this.#subscribers) {
      if (sub.state === 'live' && this.#keepsUp(sub)) sub.send(chunk);
    }
  }

  /**
   * False, after cutting it off, for a subscriber that still has more than
   * MAX_BUFFERED_BYTES unsent from earlier writes: it resumes from the log when it
   * reconnects. Checked before a publish's chunk, not after, so a reader that keeps up is
   * never cut by one batch larger than the limit; the chunk is one object shared by all
   * subscribers, so a queue holds at most the limit plus one publish.
   */
  #keepsUp(sub: Subscriber): boolean {
    if (sub.unsent <= this.#config.maxBufferedBytes) return true;
    sub.cut('subscriber too slow: over MAX_BUFFERED_BYTES unsent');
    this.#drop(sub);
    return false;
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
  #scheduleHeartbeat(delay: number): void {
    this.#heartbeat = setTimeout(() => this.#beat(), Math.max(delay, HEARTBEAT_SLACK_MS));
  }

  /**
   * Writes `: heartbeat` to every stream silent for HEARTBEAT_SECONDS; those writes are
   * also what finds readers that went away. A stream with bytes still queued is not
   * silent, only slow: a live one is checked against the buffer limit instead.
   */
  #beat(): void {
    this.#heartbeat = undefined;
    const now = Date.now();
    const interval = this.#config.heartbeatMs;
    let next = Infinity;
    for (const sub of this.#subscribers) {
      if (sub.lastWrite + interval <= now + HEARTBEAT_SLACK_MS) {
        if (sub.state === 'live' && !this.#keepsUp(sub)) continue;
        if (sub.unsent > 0 || !sub.send(HEARTBEAT)) sub.lastWrite = now;
      }
      next = Math.min(next, sub.lastWrite + interval);
    }
    if (this.#subscribers.size > 0) this.#scheduleHeartbeat(next - now);
  }
}
