/**
 * One subscriber's event stream, held at the edge by the Worker that answers it: the
 * response body (subscriber.ts), the links to its channels' objects (link.ts), idle
 * heartbeats, the slow-subscriber cut-off and the stream's recycling. A Worker is billed
 * for requests and CPU time, never for how long a stream stays open, while a Durable
 * Object holding the same stream could never hibernate (docs/platform.md).
 */
import type { ChannelLink, LinkHandler } from './link';
import { CLOSE_TOO_SLOW } from './protocol';
import { HEARTBEAT, encodeRetryOnly } from './sse';
import { Subscriber } from './subscriber';

export interface SessionOptions {
  heartbeatMs: number;
  retryMs: number;
  maxBufferedBytes: number;
  /** Wall-clock life of a stream before it ends for EventSource to reconnect (±10 %). */
  streamMaxMs: number;
}

/**
 * What a stream tells as it goes, for metrics and logs (index.ts): the session only says
 * what happened, to which of its channels.
 */
export interface SessionWatcher {
  /** Channel `index` sent the stream a `gap` (docs/api.md, "Resume"). */
  gap(index: number): void;
  /** The stream was cut off as too slow, with `unsentBytes` waiting for its reader. */
  cut(unsentBytes: number): void;
}

/** How one kind of stream frames what its channels send. */
export interface Framing {
  /** The bytes the subscriber gets for a batch of channel `index`'s SSE bytes. */
  batch(index: number, bytes: Uint8Array): Uint8Array;
  /** The bytes for channel `index` being deleted, and whether the stream ends with it. */
  deleted(index: number, close: Uint8Array): { bytes: Uint8Array; end: boolean };
}

/**
 * Bytes the stream takes ahead of its reader during a replay: the next step is asked for
 * only below this, so what a replaying subscriber holds at the edge stays under this plus
 * one step (channel.ts, REPLAY_STEP_BYTES).
 */
const READ_AHEAD_BYTES = 64 * 1024;
/** A heartbeat due this close to a timer firing is sent now rather than by another timer. */
const HEARTBEAT_SLACK_MS = 100;

export class Session {
  readonly #out: Subscriber;
  readonly #links: readonly (ChannelLink | null)[];
  readonly #options: SessionOptions;
  readonly #watcher: SessionWatcher;
  #heartbeat: ReturnType<typeof setTimeout> | undefined;
  #recycle: ReturnType<typeof setTimeout> | undefined;
  #over = false;
  /** {@link Subscriber.sent} right after the last replayed bytes: replay is paced, never cut. */
  #replayEnd = 0;

  /** `links[i]` is null for a channel already deleted when the stream opened. */
  constructor(links: readonly (ChannelLink | null)[], framing: Framing, opening: Uint8Array, options: SessionOptions, watcher: SessionWatcher) {
    this.#links = links;
    this.#options = options;
    // Before the links are bound: what they queued (a gap among it) is handed on at once.
    this.#watcher = watcher;
    this.#out = new Subscriber({ pull: () => this.#pump(), cancel: () => this.#finish() }, READ_AHEAD_BYTES, 'replaying');
    this.#out.send(opening);
    for (const [index, link] of links.entries()) link?.bind(this.#handler(index, framing));
    this.#out.start();
    if (this.#over) return;
    this.#scheduleHeartbeat(options.heartbeatMs);
    // Jittered so that streams opened together do not all come back together.
    const life = options.streamMaxMs * (0.9 + 0.2 * Math.random());
    this.#recycle = setTimeout(() => this.#end(encodeRetryOnly(options.retryMs)), life);
  }

  get stream(): ReadableStream<Uint8Array> {
    return this.#out.stream;
  }

  #handler(index: number, framing: Framing): LinkHandler {
    return {
      message: (message) => {
        // A replay step that opens with a `gap` event, which is sent on below: told once per gap.
        if (message.gap) this.#watcher.gap(index);
        if (message.kind !== 'events') {
          // A replay step: asked for only while the reader has room, so never cut.
          if (message.payload.byteLength === 0) return;
          this.#out.send(framing.batch(index, message.payload));
          this.#replayEnd = this.#out.sent;
          return;
        }
        // One publish at a time, each checked before it is queued, so a reader that keeps
        // up is never cut by one publish larger than the limit.
        let at = 0;
        for (const size of message.parts) {
          if (this.#over || this.#tooSlow()) return;
          this.#out.send(framing.batch(index, message.payload.subarray(at, at + size)));
          at += size;
        }
      },
      deleted: (close) => {
        const { bytes, end } = framing.deleted(index, close);
        if (end) this.#end(bytes);
        else this.#out.send(bytes);
      },
      wantsMore: () => this.#out.wantsMore,
    };
  }

  /**
   * Cuts the stream, freeing its buffer at once, when more than MAX_BUFFERED_BYTES of what
   * was sent live waits for the reader; it resumes from the log when it reconnects. Bytes of
   * a replay do not count: replay is sent only as the reader takes it.
   */
  #tooSlow(): boolean {
    const taken = this.#out.sent - this.#out.unsent;
    if (this.#out.sent - Math.max(taken, this.#replayEnd) <= this.#options.maxBufferedBytes) return false;
    const unsent = this.#out.unsent;
    this.#out.cut();
    this.#finish(CLOSE_TOO_SLOW);
    this.#watcher.cut(unsent);
    return true;
  }

  #pump(): void {
    for (const link of this.#links) link?.pump();
  }

  /** Hands over `last` after what is pending, then ends the stream. */
  #end(last: Uint8Array): void {
    this.#out.send(last);
    this.#out.end();
    this.#finish();
  }

  /** The stream is over, whichever way: timers stop, every link lets go of its socket, saying why with `code`. */
  #finish(code = 1000): void {
    if (this.#over) return;
    this.#over = true;
    clearTimeout(this.#heartbeat);
    clearTimeout(this.#recycle);
    for (const link of this.#links) link?.dispose(code, code === CLOSE_TOO_SLOW ? 'herald: subscriber too slow' : undefined);
  }

  #scheduleHeartbeat(delay: number): void {
    this.#heartbeat = setTimeout(() => this.#beat(), Math.max(delay, HEARTBEAT_SLACK_MS));
  }

  /**
   * Writes `: heartbeat` once the stream has been silent for HEARTBEAT_SECONDS: that write
   * is also what finds a reader that went away (nothing fires when a client disconnects).
   * A stream with bytes still queued is not silent, only slow: it is checked against the
   * buffer limit instead.
   */
  #beat(): void {
    if (this.#over) return;
    const now = Date.now();
    const interval = this.#options.heartbeatMs;
    for (const link of this.#links) link?.keepAlive();
    if (this.#out.lastWrite + interval <= now + HEARTBEAT_SLACK_MS) {
      if (this.#tooSlow()) return;
      if (this.#out.unsent > 0 || !this.#out.send(HEARTBEAT)) this.#out.lastWrite = now;
    }
    if (!this.#over) this.#scheduleHeartbeat(this.#out.lastWrite + interval - now);
  }
}

/** One channel's stream: its bytes as the object encoded them. */
export const singleChannel: Framing = {
  batch: (_, bytes) => bytes,
  deleted: (_, close) => ({ bytes: close, end: true }),
};
