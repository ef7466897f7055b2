/** Test helpers for the workerd tests: requests to the Worker and bounded stream reads. */
import { exports } from 'cloudflare:workers';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export const HUB = 'http://hub.test';
export const PUBLISH_KEY = 'herald-dev-key';
export const AUTH = { Authorization: `Bearer ${PUBLISH_KEY}` } as const;

export function uniqueChannel(prefix = 'c'): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

export function hub(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${HUB}${path}`, init));
}

/** Publishes with the publish key; `body` as text, or JSON when it is an object. */
export function publish(channel: string, body: string | object, init: RequestInit = {}, query = ''): Promise<Response> {
  const json = typeof body !== 'string';
  return hub(`/v1/channels/${channel}/events${query}`, {
    method: 'POST',
    ...init,
    headers: { ...AUTH, ...(json ? { 'Content-Type': 'application/json' } : {}), ...init.headers },
    body: json ? JSON.stringify(body) : body,
  });
}

/** Publishes and returns the ids the hub stamped, failing loudly on any other status. */
export async function publishIds(channel: string, body: string | object, init?: RequestInit): Promise<string[]> {
  const res = await publish(channel, body, init);
  if (res.status !== 201) throw new Error(`publish answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { ids: string[] }).ids;
}

export async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

/** Rejects with `what` after `ms`: every wait in the tests is bounded. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it holds; bounded. */
export async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  await within(
    (async () => {
      while (!(await check())) await sleep(50);
    })(),
    ms,
    what,
  );
}

/** An open event stream whose text accumulates as it is read. */
export class Stream {
  text = '';
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  ended = false;

  constructor(readonly response: Response) {
    if (!response.body) throw new Error(`no stream: status ${response.status}`);
    this.#reader = response.body.getReader();
  }

  /** Reads until `done(text)` holds or the stream ends; bounded by `ms`. */
  async until(done: (text: string) => boolean, ms = 5000, what = 'stream text'): Promise<string> {
    const read = async () => {
      while (!done(this.text)) {
        const { value, done: end } = await this.#reader.read();
        if (end) {
          this.ended = true;
          return this.text;
        }
        this.text += this.#decoder.decode(value, { stream: true });
      }
      return this.text;
    };
    return within(read(), ms, `${what}; got so far: ${JSON.stringify(this.text.slice(-500))}`);
  }

  /** Reads until the stream holds `count` complete events (per eventsource-parser). */
  async events(count: number, ms = 5000): Promise<EventSourceMessage[]> {
    await this.until((t) => parseSse(t).events.length >= count, ms, `${count} events`);
    return parseSse(this.text).events;
  }

  /** Reads until the server ends the stream. */
  async end(ms = 5000): Promise<string> {
    return this.until(() => false, ms, 'the end of the stream');
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

export async function subscribe(channel: string, init: RequestInit = {}, query = ''): Promise<Stream> {
  const res = await hub(`/v1/channels/${channel}/events${query}`, init);
  if (res.status !== 200) throw new Error(`subscribe answered ${res.status}: ${await res.text()}`);
  return new Stream(res);
}

/** Parses SSE text with an independent parser (eventsource-parser), never our own. */
export function parseSse(text: string): { events: EventSourceMessage[]; retry: number[]; comments: string[]; ids: string[] } {
  const events: EventSourceMessage[] = [];
  const retry: number[] = [];
  const comments: string[] = [];
  const ids: string[] = [];
  const parser = createParser({
    onEvent: (e) => events.push(e),
    onRetry: (ms) => retry.push(ms),
    onComment: (c) => comments.push(c),
    // Every id the parser takes as the last event id, also from blocks without data.
    onId: (id) => ids.push(id),
  });
  parser.feed(text);
  return { events, retry, comments, ids };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A seeded generator, so that a failing fuzz case can be replayed from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
