/**
 * Subscribers for the end-to-end tests, all read with parsers that are not Herald's:
 * the `eventsource` client (what a Node app would use) and, where bytes or backpressure
 * matter, a raw `node:http` stream fed to `eventsource-parser`.
 */
import http from 'node:http';
import { EventSource, type FetchLike } from 'eventsource';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { within } from './hub';

/** One dispatched event as a client saw it. */
export interface Received {
  type: string;
  /** The client's last event id when the event was dispatched (MessageEvent.lastEventId). */
  id: string;
  data: string;
}

const summary = (events: readonly { id?: string | undefined }[]): string => {
  const ids = events.map((e) => e.id ?? '∅');
  return `${events.length} events, ids ${ids.length > 12 ? `${ids.slice(0, 6).join(',')} … ${ids.slice(-6).join(',')}` : ids.join(',')}`;
};

/** Runs `check` after every change until it holds; bounded by {@link within}. */
class Waiters<T> {
  readonly #pending = new Set<() => void>();

  notify(): void {
    for (const waiter of [...this.#pending]) waiter();
  }

  wait(state: () => T, check: (state: T) => boolean, ms: number, what: string, describe: () => string): Promise<void> {
    if (check(state())) return Promise.resolve();
    let waiter: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      waiter = () => {
        if (check(state())) resolve();
      };
      this.#pending.add(waiter);
    });
    return within(done, ms, what).then(
      () => void this.#pending.delete(waiter),
      (err: Error) => {
        this.#pending.delete(waiter);
        throw new Error(`${err.message}; got ${describe()}`);
      },
    );
  }
}

/** An `eventsource` EventSource that records every event of the given types, and its opens and errors. */
export class Recorder {
  readonly source: EventSource;
  readonly events: Received[] = [];
  opens = 0;
  errors = 0;
  readonly #waiters = new Waiters<Received[]>();

  /** `fetch` replaces the client's own, e.g. to see or hold its (re)connection requests. */
  constructor(url: string, types: readonly string[] = ['message'], { fetch }: { fetch?: FetchLike } = {}) {
    this.source = new EventSource(url, fetch ? { fetch } : undefined);
    for (const type of types) {
      this.source.addEventListener(type, (event: MessageEvent) => {
        this.events.push({ type: event.type, id: event.lastEventId, data: String(event.data) });
        this.#waiters.notify();
      });
    }
    this.source.addEventListener('open', () => {
      this.opens += 1;
      this.#waiters.notify();
    });
    this.source.addEventListener('error', () => {
      this.errors += 1;
      this.#waiters.notify();
    });
  }

  /** Resolves once `check(events)` holds; rejects after `ms` naming `what` and what arrived. */
  waitFor(check: (events: Received[]) => boolean, ms: number, what: string): Promise<void> {
    return this.#waiters.wait(
      () => this.events,
      check,
      ms,
      what,
      () => `${summary(this.events)} (opens ${this.opens}, errors ${this.errors})`,
    );
  }

  /** Resolves once `n` events have arrived. */
  waitForCount(n: number, ms: number): Promise<void> {
    return this.waitFor((events) => events.length >= n, ms, `${n} events on the EventSource`);
  }

  /** Resolves once the connection is open (readyState OPEN). */
  waitOpen(ms: number): Promise<void> {
    return this.#waiters.wait(
      () => this.events,
      () => this.source.readyState === EventSource.OPEN,
      ms,
      'the EventSource to open',
      () => `readyState ${this.source.readyState}, ${this.errors} errors`,
    );
  }

  close(): void {
    this.source.close();
  }
}

/** How a raw stream ended: the body finished, or the connection broke. */
export type StreamEnd = { how: 'end' } | { how: 'error'; message: string };

/**
 * A subscriber on a raw `node:http` connection, so a test can stop reading (backpressure
 * reaches the hub through the socket) and see the exact bytes.
 */
export class RawStream {
  /** Everything received so far, decoded as UTF-8. */
  text = '';
  bytes = 0;
  /** Complete events, as parsed by eventsource-parser. */
  readonly events: EventSourceMessage[] = [];
  readonly comments: string[] = [];
  /** Set once the response body ended or the connection broke. */
  end: StreamEnd | undefined;
  readonly #decoder = new TextDecoder();
  readonly #parser = createParser({
    onEvent: (event) => this.events.push(event),
    onComment: (comment) => this.comments.push(comment),
  });
  readonly #waiters = new Waiters<RawStream>();

  private constructor(
    readonly request: http.ClientRequest,
    readonly response: http.IncomingMessage,
  ) {
    response.on('data', (chunk: Buffer) => {
      this.bytes += chunk.byteLength;
      const text = this.#decoder.decode(chunk, { stream: true });
      this.text += text;
      this.#parser.feed(text);
      this.#waiters.notify();
    });
    const finish = (end: StreamEnd) => {
      this.end ??= end;
      this.#waiters.notify();
    };
    response.on('end', () => finish({ how: 'end' }));
    response.on('error', (err) => finish({ how: 'error', message: err.message }));
    response.on('aborted', () => finish({ how: 'error', message: 'aborted' }));
    response.on('close', () => finish(response.complete ? { how: 'end' } : { how: 'error', message: 'closed before the body was complete' }));
  }

  /**
   * GETs `url` on its own connection and resolves on the response headers (bounded).
   * With `paused`, the body is not read at all until {@link resume}.
   */
  static open(
    url: string,
    { headers = {}, paused = false, timeoutMs = 10_000 }: { headers?: Record<string, string>; paused?: boolean; timeoutMs?: number } = {},
  ): Promise<RawStream> {
    let req: http.ClientRequest | undefined;
    const opened = new Promise<RawStream>((resolve, reject) => {
      req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers }, agent: false }, (res) => {
        if (paused) res.pause();
        resolve(new RawStream(req!, res));
      });
      req.on('error', (err) => reject(new Error(`GET ${url} failed: ${err.message}`)));
    });
    return within(opened, timeoutMs, `response headers of GET ${url}`).catch((err: unknown) => {
      req?.destroy();
      throw err;
    });
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  /** The id of the last complete event received, or null. */
  get lastId(): string | null {
    return this.events.at(-1)?.id ?? null;
  }

  pause(): void {
    this.response.pause();
  }

  resume(): void {
    this.response.resume();
  }

  /** Resolves once `check(this)` holds; rejects after `ms` naming `what` and what arrived. */
  waitFor(check: (stream: RawStream) => boolean, ms: number, what: string): Promise<void> {
    return this.#waiters.wait(
      () => this,
      check,
      ms,
      what,
      () => `${this.bytes} bytes, ${summary(this.events)}, end ${JSON.stringify(this.end ?? null)}`,
    );
  }

  /** Resolves once the event with this id has arrived. */
  waitForId(id: string, ms: number): Promise<void> {
    return this.waitFor((s) => s.events.some((e) => e.id === id), ms, `event id ${id}`);
  }

  /** Resolves with how the stream ended, once it has. */
  async ended(ms: number): Promise<StreamEnd> {
    await this.waitFor((s) => s.end !== undefined, ms, 'the stream to end');
    return this.end!;
  }

  /** Drops the connection (a client going away). */
  close(): void {
    this.request.destroy();
    this.response.destroy();
  }
}

/** `['1', '2', …, String(n)]`, or from `from` to `to` inclusive. */
export function idRange(from: number, to: number): string[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => String(from + i));
}
