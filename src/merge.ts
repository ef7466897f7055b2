/**
 * Merges the SSE streams of several channels' Durable Objects into the one stream of a
 * multi-channel subscription (docs/api.md). Each event is re-framed with its channel and
 * the cursor of every channel as its id; gaps and closes say their channel. Heartbeats
 * are the merged stream's own, timed from its last write: the channels' heartbeats are
 * dropped, since their timing says nothing about what this stream last wrote.
 *
 * Reading is driven by the client: a channel's stream is read only while the client waits
 * for bytes, so a slow client leaves its bytes queued in the channels' objects, which cut
 * it off past MAX_BUFFERED_BYTES as for any subscriber. What the Worker itself holds is
 * bounded by one chunk per channel (an object's chunk is at most 4 KiB of joined events,
 * or one publish). A cut, or any channel's stream failing, fails the whole stream, and the
 * client resumes every channel from its cursor.
 */
import { cursorText } from './cursor';
import { FrameReader, type Frame } from './frames';

/** One channel of the set: its object's open stream, or null when the channel is deleted. */
export interface MergeInput {
  channel: string;
  body: ReadableStream<Uint8Array> | null;
  /** The id it resumes after, or null when it is live only (the object's opening says it). */
  after: number | null;
}

export interface MergeOptions {
  retryMs: number;
  heartbeatMs: number;
}

/** A heartbeat due this close is sent now rather than by another timer. */
const HEARTBEAT_SLACK_MS = 100;

const encoder = new TextEncoder();

export function encodeMergedEvent(cursor: string, channel: string, frame: Frame & { id: number }): string {
  const event = frame.event === undefined || frame.event === 'message' ? '' : `event: ${frame.event}\n`;
  const data = JSON.stringify({ channel, id: String(frame.id), data: frame.data ?? '' });
  return `id: ${cursor}\n${event}data: ${data}\n\n`;
}

/** The hub's own `gap` and `close` events, with the channel they are about first. */
export function encodeChannelNotice(event: 'gap' | 'close', channel: string, data: string): string {
  const fields = JSON.parse(data) as Record<string, unknown>;
  return `event: ${event}\ndata: ${JSON.stringify({ channel, ...fields })}\n\n`;
}

class Part {
  readonly frames = new FrameReader();
  reading = false;
  done = false;
  /** Got its `close`: its stream ending is expected. */
  closed = false;
  constructor(
    readonly index: number,
    readonly channel: string,
    readonly reader: ReadableStreamDefaultReader<Uint8Array> | null,
  ) {
    if (reader === null) this.done = this.closed = true;
  }
}

/**
 * Opens the merged stream: waits for every channel's opening (it carries the live id the
 * cursor starts from), then answers a stream that starts with the merged opening.
 */
export async function mergeChannels(inputs: readonly MergeInput[], options: MergeOptions): Promise<ReadableStream<Uint8Array>> {
  const merged = new MergedStream(inputs, options);
  await merged.open();
  return merged.stream;
}

class MergedStream {
  readonly stream: ReadableStream<Uint8Array>;
  readonly #parts: Part[];
  readonly #cursor: number[];
  readonly #options: MergeOptions;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Text for the client, not yet handed over. */
  #pending = '';
  /** The client waits for bytes. */
  #waiting = false;
  #lastWrite = Date.now();
  #ended = false;
  #heartbeat: ReturnType<typeof setTimeout> | undefined;

  constructor(inputs: readonly MergeInput[], options: MergeOptions) {
    this.#options = options;
    this.#cursor = inputs.map((input) => input.after ?? 0);
    this.#parts = inputs.map((input, i) => new Part(i, input.channel, input.body?.getReader() ?? null));
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => {
          this.#waiting = true;
          this.#flush();
          this.#readMore();
        },
        cancel: () => this.#release(),
      },
      { highWaterMark: 0 },
    );
  }

  async open(): Promise<void> {
    const early: Frame[][] = [];
    try {
      for (const part of this.#parts) early[part.index] = await this.#opening(part);
    } catch (err) {
      this.#release();
      throw err;
    }
    this.#pending = `retry: ${this.#options.retryMs}\nid: ${cursorText(this.#cursor)}\n: connected\n\n`;
    for (const part of this.#parts) {
      if (part.reader === null) this.#pending += encodeChannelNotice('close', part.channel, '{"reason":"deleted"}');
      else this.#take(part, early[part.index] ?? []);
    }
    this.#scheduleHeartbeat(this.#options.heartbeatMs);
  }

  /** Writes `: heartbeat` once the stream has been silent for the interval. */
  #scheduleHeartbeat(delay: number): void {
    this.#heartbeat = setTimeout(() => {
      if (this.#ended) return;
      const silent = Date.now() - this.#lastWrite;
      // Bytes still pending mean a busy client, not a silent stream.
      if (this.#pending === '' && silent >= this.#options.heartbeatMs - HEARTBEAT_SLACK_MS) {
        this.#pending = ': heartbeat\n\n';
        this.#flush();
      }
      const next = this.#lastWrite + this.#options.heartbeatMs - Date.now();
      this.#scheduleHeartbeat(next > HEARTBEAT_SLACK_MS ? next : this.#options.heartbeatMs);
    }, Math.max(delay, HEARTBEAT_SLACK_MS));
  }

  /** Reads a channel's stream up to its opening; returns the frames that came with it. */
  async #opening(part: Part): Promise<Frame[]> {
    if (part.reader === null) return [];
    for (;;) {
      const { value, done } = await part.reader.read();
      if (done) throw new Error(`the stream of '${part.channel}' ended before its opening`);
      const frames = part.frames.push(value);
      if (frames.length === 0) continue;
      const [opening, ...rest] = frames as [Frame, ...Frame[]];
      // A live-only stream opens with the channel's last id; a resuming one goes on from `after`.
      if (opening.id !== undefined && opening.data === undefined) this.#cursor[part.index] = opening.id;
      return rest;
    }
  }

  /** Re-frames what a channel sent, in order, into what the client gets. */
  #take(part: Part, frames: readonly Frame[]): void {
    for (const frame of frames) {
      if (frame.event === 'gap' || frame.event === 'close') {
        this.#pending += encodeChannelNotice(frame.event, part.channel, frame.data ?? '{}');
        if (frame.event === 'close') part.closed = true;
      } else if (frame.id !== undefined && frame.data !== undefined) {
        this.#cursor[part.index] = frame.id;
        this.#pending += encodeMergedEvent(cursorText(this.#cursor), part.channel, { ...frame, id: frame.id });
      }
    }
  }

  /** Starts a read on every channel with none in flight, while the client waits. */
  #readMore(): void {
    for (const part of this.#parts) {
      if (!this.#waiting || this.#ended) return;
      if (!part.reading && !part.done) void this.#read(part);
    }
  }

  async #read(part: Part): Promise<void> {
    part.reading = true;
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await part.reader!.read();
    } catch (err) {
      // The channel cut this subscriber (too slow) or its object went away.
      this.#fail(err);
      return;
    } finally {
      part.reading = false;
    }
    if (this.#ended) return;
    if (result.done) {
      part.done = true;
      if (!part.closed) return this.#fail(new Error(`the stream of '${part.channel}' ended without a close`));
      if (this.#parts.every((p) => p.done)) return this.#end();
    } else {
      this.#take(part, part.frames.push(result.value));
    }
    this.#flush();
    this.#readMore();
  }

  /** Hands what is pending to a waiting client, as one chunk. */
  #flush(): void {
    if (!this.#waiting || this.#pending === '' || this.#ended) return;
    this.#waiting = false;
    this.#lastWrite = Date.now();
    const bytes = encoder.encode(this.#pending);
    this.#pending = '';
    this.#controller.enqueue(bytes);
  }

  /** Every channel closed: the client gets what is pending, then the end. */
  #end(): void {
    this.#ended = true;
    clearTimeout(this.#heartbeat);
    if (this.#pending !== '') this.#controller.enqueue(encoder.encode(this.#pending));
    this.#pending = '';
    this.#controller.close();
  }

  #fail(err: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#release();
    this.#controller.error(err);
  }

  /** Lets go of every channel's stream: each object sees its subscriber leave. */
  #release(): void {
    this.#ended = true;
    clearTimeout(this.#heartbeat);
    this.#pending = '';
    for (const part of this.#parts) part.reader?.cancel().catch(() => {});
  }
}
