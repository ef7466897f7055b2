// The client library (client/): its pure parts, and subscribe()/publish() against a scripted
// fetch that answers as docs/api.md says the hub does. The real hub: test/e2e/client.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, resolveBackoff, waitDelay, DEFAULT_BACKOFF } from '../client/backoff.ts';
import { isRetryableStatus, parseError, retryAfterMs } from '../client/errors.ts';
import type { Fetch } from '../client/fetch.ts';
import {
  HeraldError,
  publish,
  subscribe,
  type CloseReason,
  type ErrorInfo,
  type Gap,
  type HeraldEvent,
  type SubscribeOptions,
  type Wait,
} from '../client/index.ts';
import { interpret, type Target } from '../client/messages.ts';
import { channelEventsUrl, multiEventsUrl } from '../client/urls.ts';

const HUB = 'https://hub.test';
const SSE = { 'Content-Type': 'text/event-stream; charset=utf-8' };
const encoder = new TextEncoder();

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

// ---------------------------------------------------------------- pure parts

describe('backoffDelay', () => {
  const backoff = { initialMs: 1000, maxMs: 30_000, factor: 2 };

  it.each([
    // attempt, base, random, delay
    [1, 2000, 0, 2000],
    [1, 2000, 0.5, 3000],
    [1, 2000, 0.999, 3998],
    [2, 2000, 0, 4000],
    [2, 2000, 0.5, 6000],
    [3, 2000, 0, 8000],
    [4, 2000, 0.25, 19_500], // 16 s to 30 s (32 s capped)
    [5, 2000, 0, 30_000], // 32 s, capped
    [5, 2000, 0.9, 30_000],
    [40, 2000, 0.5, 30_000],
  ])('attempt %i on base %i with random %d waits %i ms', (attempt, base, random, expected) => {
    expect(backoffDelay(attempt, base, backoff, () => random)).toBe(expected);
  });

  it('grows with every failure in a row: each delay is at least the one before', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, 500, backoff, Math.random));
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
    expect(delays[0]).toBeGreaterThanOrEqual(500);
    expect(delays[6]).toBe(30_000);
  });

  it('a server retry: above maxMs is honoured rather than cut', () => {
    expect(backoffDelay(1, 60_000, backoff, () => 0.5)).toBe(60_000);
  });

  it('a retry: 0 still waits 100 ms, and then grows', () => {
    expect([1, 2, 3].map((attempt) => backoffDelay(attempt, 0, backoff, () => 0))).toEqual([100, 200, 400]);
  });

  it('factor 1 keeps the base, without jitter', () => {
    expect(backoffDelay(9, 700, { ...backoff, factor: 1 }, () => 0.7)).toBe(700);
  });
});

describe('waitDelay (issue 8: a full or unavailable channel answers a wait)', () => {
  it.each([
    // the hub's retry:, random, delay
    [10_000, 0, 10_000],
    [10_000, 0.5, 10_500],
    [10_000, 0.999, 10_999],
    [1500, 0.5, 1575],
    [60_000, 0.5, 63_000], // not capped at maxMs: the hub said how long
    [0, 0, 100], // a retry: 0 would be a tight loop
    [0, 0.5, 105],
  ])('retry: %i with random %d waits %i ms', (retryMs, random, expected) => {
    expect(waitDelay(retryMs, () => random)).toBe(expected);
  });
});

describe('resolveBackoff', () => {
  it('fills in the defaults', () => {
    expect(resolveBackoff()).toEqual(DEFAULT_BACKOFF);
    expect(resolveBackoff({ maxMs: 5000 })).toEqual({ initialMs: 1000, maxMs: 5000, factor: 2 });
  });

  it.each([
    [{ initialMs: -1 }, 'backoff.initialMs must be a number of ms ≥ 0, got -1.'],
    [{ initialMs: Number.NaN }, 'backoff.initialMs must be a number of ms ≥ 0, got NaN.'],
    [{ maxMs: 500 }, 'backoff.maxMs must be a number of ms ≥ initialMs, got 500.'],
    [{ factor: 0.5 }, 'backoff.factor must be a number ≥ 1, got 0.5.'],
  ])('refuses %j with a RangeError that names the field', (options, message) => {
    expect(() => resolveBackoff(options)).toThrow(new RangeError(message));
  });
});

describe('parseError', () => {
  it("reads the hub's JSON error body", () => {
    const error = parseError(400, '{"error":{"code":"invalid_channel","message":"A channel name is …"}}');
    expect(error).toBeInstanceOf(HeraldError);
    expect(error).toBeInstanceOf(Error);
    expect({ name: error.name, status: error.status, code: error.code, message: error.message }).toEqual({
      name: 'HeraldError',
      status: 400,
      code: 'invalid_channel',
      message: 'A channel name is …',
    });
  });

  it.each([
    ["a proxy's HTML page", 502, '<html>Bad gateway</html>', 'http_502', 'The hub answered 502: <html>Bad gateway</html>.'],
    ['no body', 500, '', 'http_500', 'The hub answered 500 with no body.'],
    ['JSON of another shape', 404, '{"message":"nope"}', 'http_404', 'The hub answered 404: {"message":"nope"}.'],
    ['a code that is not a string', 400, '{"error":{"code":4,"message":"x"}}', 'http_400', 'The hub answered 400: {"error":{"code":4,"message":"x"}}.'],
  ])('turns %s into code http_<status>', (_, status, body, code, message) => {
    const error = parseError(status, body);
    expect([error.status, error.code, error.message]).toEqual([status, code, message]);
  });

  it('quotes at most 200 characters of a foreign body', () => {
    expect(parseError(503, 'x'.repeat(5000)).message).toBe(`The hub answered 503: ${'x'.repeat(200)}.`);
  });
});

describe('which answers are retried', () => {
  it.each([
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [409, false],
    [413, false],
    [422, false],
    [408, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [504, true],
  ])('status %i: retried %s', (status, retried) => {
    expect(isRetryableStatus(status)).toBe(retried);
  });

  it.each([
    ['10', 10_000],
    [' 1 ', 1000],
    ['0', 0],
    ['Wed, 21 Oct 2015 07:28:00 GMT', undefined],
    ['-1', undefined],
    ['1.5', undefined],
  ])('Retry-After %j is %s ms', (header, ms) => {
    expect(retryAfterMs(header)).toBe(ms);
  });

  it('no Retry-After is undefined', () => {
    expect(retryAfterMs(null)).toBeUndefined();
  });
});

describe('urls', () => {
  it('puts the path under the base, with or without a trailing slash or a prefix', () => {
    expect(channelEventsUrl('http://127.0.0.1:8787', 'orders').href).toBe('http://127.0.0.1:8787/v1/channels/orders/events');
    expect(channelEventsUrl('https://example.com/herald/', 'orders').href).toBe('https://example.com/herald/v1/channels/orders/events');
    expect(multiEventsUrl('https://example.com/herald', ['b', 'a', 'c']).href).toBe('https://example.com/herald/v1/events?channel=b&channel=a&channel=c');
  });

  it('percent-encodes the channel, so a "/" or "?" in it cannot reach another path', () => {
    expect(channelEventsUrl(HUB, 'a/b?c').href).toBe(`${HUB}/v1/channels/a%2Fb%3Fc/events`);
    expect(channelEventsUrl(HUB, 'user:1@x~y').href).toBe(`${HUB}/v1/channels/user%3A1%40x~y/events`);
  });
});

describe('interpret: one channel (docs/api.md)', () => {
  const one: Target = { kind: 'channel', channel: 'orders' };

  it('an event keeps its id as both id and cursor; an unnamed one is "message"', () => {
    const incoming = interpret({ id: '42', event: undefined, data: '{"n":1}' }, one);
    expect(incoming).toEqual({ type: 'event', event: { channel: 'orders', id: '42', event: 'message', data: '{"n":1}', cursor: '42' } });
    expect(incoming.type === 'event' && incoming.event.json<{ n: number }>()).toEqual({ n: 1 });
  });

  it('a named event keeps its name', () => {
    expect(interpret({ id: '7', event: 'order.created', data: 'x' }, one)).toMatchObject({ type: 'event', event: { event: 'order.created', id: '7' } });
  });

  it('a gap gets the channel added', () => {
    expect(interpret({ event: 'gap', data: '{"lastEventId":"3","oldestId":"8","latestId":"12"}' }, one)).toEqual({
      type: 'gap',
      gap: { channel: 'orders', lastEventId: '3', oldestId: '8', latestId: '12' },
    });
    expect(interpret({ event: 'gap', data: '{"lastEventId":"3","oldestId":null,"latestId":null}' }, one)).toEqual({
      type: 'gap',
      gap: { channel: 'orders', lastEventId: '3', oldestId: null, latestId: null },
    });
  });

  it("close is the channel's", () => {
    expect(interpret({ event: 'close', data: '{"reason":"deleted"}' }, one)).toEqual({ type: 'close', channel: 'orders' });
  });

  it.each([
    ['an event without an id', { data: 'x' }],
    ['a gap that is not JSON', { event: 'gap', data: 'gap!' }],
    ['a gap with a numeric id', { event: 'gap', data: '{"lastEventId":3,"oldestId":null,"latestId":null}' }],
  ])('%s is invalid', (_, message) => {
    expect(interpret(message, one)).toMatchObject({ type: 'invalid' });
  });
});

describe('interpret: several channels (docs/api.md)', () => {
  const many: Target = { kind: 'channels', channels: ['a', 'b'] };

  it("unwraps the envelope: channel, the event's own id and the data from it, the stream's id as cursor", () => {
    const incoming = interpret({ id: '12.7', event: 'tick', data: '{"channel":"b","id":"7","data":"{\\"n\\":1}"}' }, many);
    expect(incoming).toEqual({ type: 'event', event: { channel: 'b', id: '7', event: 'tick', data: '{"n":1}', cursor: '12.7' } });
    expect(incoming.type === 'event' && incoming.event.json()).toEqual({ n: 1 });
  });

  it('gap and close name their channel', () => {
    expect(interpret({ event: 'gap', data: '{"channel":"a","lastEventId":"1","oldestId":"5","latestId":"9"}' }, many)).toEqual({
      type: 'gap',
      gap: { channel: 'a', lastEventId: '1', oldestId: '5', latestId: '9' },
    });
    expect(interpret({ event: 'close', data: '{"channel":"b","reason":"deleted"}' }, many)).toEqual({ type: 'close', channel: 'b' });
  });

  it.each([
    ['data that is not JSON', { id: '1.0', data: 'x' }],
    ['an envelope without id', { id: '1.0', data: '{"channel":"a","data":"x"}' }],
    ['a numeric id', { id: '1.0', data: '{"channel":"a","id":1,"data":"x"}' }],
    ['data that is not a string', { id: '1.0', data: '{"channel":"a","id":"1","data":{"n":1}}' }],
    ['a channel not subscribed to', { id: '1.0', data: '{"channel":"c","id":"1","data":"x"}' }],
    ['an array', { id: '1.0', data: '["a","1","x"]' }],
    ['a gap without channel', { event: 'gap', data: '{"lastEventId":"1","oldestId":null,"latestId":null}' }],
    ['a close without channel', { event: 'close', data: '{"reason":"deleted"}' }],
  ])('%s is invalid', (_, message) => {
    expect(interpret(message, many)).toMatchObject({ type: 'invalid' });
  });
});

// ---------------------------------------------------------------- a scripted hub

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** An SSE response whose body the test writes to, ends or breaks, and which records its cancellation. */
function liveStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
    cancel: () => {
      cancelled = true;
    },
  });
  return {
    response: new Response(body, { headers: SSE }),
    write: (text: string) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    fail: () => controller.error(new TypeError('connection reset')),
    cancelled: () => cancelled,
  };
}

/** An SSE response with this whole text, cut into 5-byte chunks (fields split across reads), then ended. */
function sse(text: string): Response {
  const bytes = encoder.encode(text);
  const body = new ReadableStream<Uint8Array>({
    start: (c) => {
      for (let at = 0; at < bytes.length; at += 5) c.enqueue(bytes.slice(at, at + 5));
      c.close();
    },
  });
  return new Response(body, { headers: SSE });
}

const errorAnswer = (status: number, code: string, headers: Record<string, string> = {}) =>
  Response.json({ error: { code, message: `${code}, as the hub says it` } }, { status, headers });

type Answer = Response | Error;

/**
 * A fetch that gives each request the next answer (an Error is thrown, as a network
 * failure). Once they run out it never answers, like a hub that hangs, until aborted.
 */
function scriptedFetch(...answers: Answer[]) {
  const sent: Sent[] = [];
  const fetch: Fetch = async (url, init) => {
    sent.push({ url, method: init.method ?? 'GET', headers: Object.fromEntries(init.headers), body: init.body });
    const answer = answers.shift();
    if (answer instanceof Error) throw answer;
    if (answer !== undefined) return answer;
    return new Promise<Response>((_, reject) => {
      init.signal.addEventListener('abort', () => reject(init.signal.reason), { once: true });
    });
  };
  return { fetch, sent };
}

/** subscribe() with every callback recorded. */
function recorded(options: Omit<SubscribeOptions, 'onEvent'> & { onEvent?: (event: HeraldEvent) => void }) {
  const seen = {
    events: [] as HeraldEvent[],
    gaps: [] as Gap[],
    errors: [] as Array<{ error: Error; info: ErrorInfo }>,
    opens: 0,
    closes: [] as CloseReason[],
    channelCloses: [] as string[],
    waits: [] as Wait[],
  };
  const sub = subscribe(HUB, {
    ...options,
    onEvent: (event) => {
      seen.events.push(event);
      options.onEvent?.(event);
    },
    onGap: (gap) => seen.gaps.push(gap),
    onOpen: () => (seen.opens += 1),
    onError: (error, info) => seen.errors.push({ error, info }),
    onClose: (reason) => seen.closes.push(reason),
    onChannelClose: (channel) => seen.channelCloses.push(channel),
    onWait: (wait) => {
      seen.waits.push(wait);
      options.onWait?.(wait);
    },
  });
  return { sub, seen };
}

/** Taken before any test fakes the timers: waiting here must not move the client's (fake) clock. */
const realSetTimeout = globalThis.setTimeout;
const realNow = Date.now;

/** Polls `check` (an assertion) until it passes, for at most 5 s, then throws its last failure. */
async function until(check: () => void): Promise<void> {
  const deadline = realNow() + 5000;
  for (;;) {
    try {
      check();
      return;
    } catch (failure) {
      if (realNow() > deadline) throw failure;
    }
    await new Promise((resolve) => realSetTimeout(resolve, 5));
  }
}

/** Lets the client read what a test just wrote, when no callback shows it (a comment). */
const settle = () => new Promise((resolve) => realSetTimeout(resolve, 5));

/** Plain data of events, for exact comparison. */
const plain = (events: readonly HeraldEvent[]) => events.map(({ channel, id, event, data, cursor }) => ({ channel, id, event, data, cursor }));

// ---------------------------------------------------------------- subscribe, one channel

describe('subscribe({ channel })', () => {
  it('sends the token, the custom headers and Accept to /v1/channels/{channel}/events, and no Last-Event-ID at first', async () => {
    const { fetch, sent } = scriptedFetch();
    const { sub } = recorded({ channel: 'private-x', token: 'tok', headers: { 'X-Trace': 't1' }, fetch });
    await until(() => expect(sent).toHaveLength(1));
    sub.close();
    expect(sent[0]).toEqual({
      url: `${HUB}/v1/channels/private-x/events`,
      method: 'GET',
      headers: { accept: 'text/event-stream', authorization: 'Bearer tok', 'x-trace': 't1' },
      body: undefined,
    });
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
  });

  it('the opening id: sets the cursor before any event; events, gaps and the cursor follow the stream; heartbeats are ignored', async () => {
    const stream = liveStream();
    const { fetch } = scriptedFetch(stream.response);
    const { sub, seen } = recorded({ channel: 'orders', fetch });

    stream.write('retry: 2000\nid: 41\n: connected\n\n');
    await until(() => expect(seen.opens).toBe(1));
    expect(sub.lastEventId).toBe('41');
    expect(seen.events).toEqual([]);

    stream.write('id: 42\ndata: a\ndata: b\n\n: heartbeat\n\nid: 43\nevent: tick\ndata: {"n":1}\n\n');
    stream.write('event: gap\ndata: {"lastEventId":"43","oldestId":"50","latestId":"52"}\n\nid: 50\ndata: c\n\n');
    await until(() => expect(seen.events).toHaveLength(3));
    expect(plain(seen.events)).toEqual([
      { channel: 'orders', id: '42', event: 'message', data: 'a\nb', cursor: '42' },
      { channel: 'orders', id: '43', event: 'tick', data: '{"n":1}', cursor: '43' },
      { channel: 'orders', id: '50', event: 'message', data: 'c', cursor: '50' },
    ]);
    expect(seen.events[1]!.json()).toEqual({ n: 1 });
    expect(seen.gaps).toEqual([{ channel: 'orders', lastEventId: '43', oldestId: '50', latestId: '52' }]);
    expect(sub.lastEventId).toBe('50');
    expect(seen.errors).toEqual([]);

    sub.close();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(stream.cancelled()).toBe(true);
    expect(seen.closes).toEqual([{ type: 'closed' }]);
  });

  it('reconnects when the stream ends or breaks, each time with Last-Event-ID of the last id seen', async () => {
    const broken = liveStream();
    const { fetch, sent } = scriptedFetch(
      sse('retry: 100\nid: 0\n: connected\n\nid: 1\ndata: one\n\n'),
      sse('retry: 100\n: connected\n\nid: 2\ndata: two\n\n'),
      broken.response,
    );
    const { sub, seen } = recorded({ channel: 'orders', lastEventId: '0', fetch });
    await until(() => expect(sent).toHaveLength(3));
    broken.write('retry: 100\n: connected\n\nid: 3\ndata: three\n\n');
    await until(() => expect(seen.events).toHaveLength(3));
    broken.fail();
    await until(() => expect(sent).toHaveLength(4));
    sub.close();
    await sub.closed;

    expect(sent.map((s) => s.headers['last-event-id'])).toEqual(['0', '1', '2', '3']);
    expect(plain(seen.events).map((e) => [e.id, e.data])).toEqual([
      ['1', 'one'],
      ['2', 'two'],
      ['3', 'three'],
    ]);
    expect(seen.opens).toBe(3);
    expect(seen.errors.map(({ error, info }) => [error.message, info.willRetry, info.attempt])).toEqual([
      ['The hub ended the stream.', true, 1],
      ['The hub ended the stream.', true, 1],
      ['connection reset', true, 1],
    ]);
    // retry: 100 is the base: the first retry after a success waits 100–200 ms.
    for (const { info } of seen.errors) {
      expect(info.delayMs).toBeGreaterThanOrEqual(100);
      expect(info.delayMs).toBeLessThanOrEqual(200);
    }
  });

  it("backoff grows over failures in a row from the server's retry:, and starts again after a stream opens", async () => {
    vi.useFakeTimers();
    const { fetch, sent } = scriptedFetch(
      sse('retry: 300\n: connected\n\n'),
      new TypeError('fetch failed'),
      errorAnswer(502, 'http_502'),
      new TypeError('fetch failed'),
      sse('retry: 300\n: connected\n\n'),
      new TypeError('fetch failed'),
    );
    const { sub, seen } = recorded({ channel: 'orders', fetch, backoff: { maxMs: 2000 } });
    for (let n = 1; n <= 5; n++) {
      await until(() => expect(seen.errors).toHaveLength(n));
      await vi.advanceTimersByTimeAsync(seen.errors[n - 1]!.info.delayMs!);
    }
    await until(() => expect(seen.errors).toHaveLength(6));
    sub.close();
    await sub.closed;
    expect(sent).toHaveLength(6);

    const infos = seen.errors.map((e) => e.info);
    expect(infos.map((i) => [i.attempt, i.willRetry])).toEqual([
      [1, true],
      [2, true],
      [3, true],
      [4, true],
      [1, true],
      [2, true],
    ]);
    const ranges = [
      [300, 600],
      [600, 1200],
      [1200, 2000],
      [2000, 2000],
      [300, 600],
      [600, 1200],
    ];
    infos.forEach((info, i) => {
      expect(info.delayMs, `delay ${i + 1}`).toBeGreaterThanOrEqual(ranges[i]![0]!);
      expect(info.delayMs, `delay ${i + 1}`).toBeLessThanOrEqual(ranges[i]![1]!);
    });
    expect(seen.errors[2]!.error).toMatchObject({ status: 502, code: 'http_502' });
  });

  it('503 with Retry-After waits what the hub asks, when that is longer than the backoff', async () => {
    const { fetch } = scriptedFetch(errorAnswer(503, 'channel_full', { 'Retry-After': '10' }));
    const { sub, seen } = recorded({ channel: 'orders', fetch });
    await until(() => expect(seen.errors).toHaveLength(1));
    sub.close();
    await sub.closed;
    expect(seen.errors[0]!.error).toMatchObject({ name: 'HeraldError', status: 503, code: 'channel_full' });
    expect(seen.errors[0]!.info).toEqual({ willRetry: true, delayMs: 10_000, attempt: 1 });
  });

  it("a wait (a stream of only retry: and `: channel_full`) is no error: onWait, no onOpen, then the same Last-Event-ID after the hub's retry: plus jitter", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const stream = liveStream();
    const { fetch, sent } = scriptedFetch(sse('retry: 10000\n: channel_full\n\n'), stream.response);
    const { sub, seen } = recorded({ channel: 'orders', lastEventId: '41', fetch, idleTimeoutMs: 0 });
    // 10 000 ms and a tenth of it times 0.5.
    await until(() => expect(seen.waits).toEqual([{ reason: 'channel_full', delayMs: 10_500 }]));
    expect(vi.getTimerCount()).toBe(1); // the wait
    await vi.advanceTimersByTimeAsync(10_499);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => expect(sent).toHaveLength(2));

    stream.write('retry: 2000\n: connected\n\nid: 42\ndata: a\n\n');
    await until(() => expect(seen.events).toHaveLength(1));
    sub.close();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(sent.map((s) => s.headers['last-event-id'])).toEqual(['41', '41']);
    expect(plain(seen.events)).toEqual([{ channel: 'orders', id: '42', event: 'message', data: 'a', cursor: '42' }]);
    expect(seen.errors).toEqual([]);
    expect(seen.opens).toBe(1);
    expect(seen.waits).toHaveLength(1);
  });

  it('waits as long as each wait says, again and again, `unavailable` as `channel_full`; lastEventId never moves', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const { fetch, sent } = scriptedFetch(
      sse('retry: 1500\n: unavailable\n\n'),
      sse('retry: 1999\n: unavailable\n\n'),
      sse('retry: 10000\n: channel_full\n\n'),
    );
    const { sub, seen } = recorded({ channel: 'orders', lastEventId: '7', fetch, idleTimeoutMs: 0 });
    for (let n = 1; n <= 3; n++) {
      await until(() => expect(seen.waits).toHaveLength(n));
      expect(sub.lastEventId).toBe('7');
      await vi.advanceTimersByTimeAsync(seen.waits[n - 1]!.delayMs);
    }
    await until(() => expect(sent).toHaveLength(4));
    sub.close();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(seen.waits).toEqual([
      { reason: 'unavailable', delayMs: 1500 },
      { reason: 'unavailable', delayMs: 1999 },
      { reason: 'channel_full', delayMs: 10_000 },
    ]);
    expect(sent.map((s) => s.headers['last-event-id'])).toEqual(['7', '7', '7', '7']);
    expect(seen.errors).toEqual([]);
    expect(seen.opens).toBe(0);
  });

  it("a wait is no failure: the count of failures in a row, and the backoff base (the last stream's retry:), stay as they were", async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const { fetch, sent } = scriptedFetch(
      sse('retry: 300\n: connected\n\n'), // opens, then ends: failure 1 on base 300
      new TypeError('fetch failed'), // failure 2
      sse('retry: 1500\n: unavailable\n\n'), // a wait
      new TypeError('fetch failed'), // failure 3, still on base 300
    );
    const { sub, seen } = recorded({ channel: 'orders', fetch, idleTimeoutMs: 0 });
    await until(() => expect(seen.errors).toHaveLength(1));
    await vi.advanceTimersByTimeAsync(seen.errors[0]!.info.delayMs!);
    await until(() => expect(seen.errors).toHaveLength(2));
    await vi.advanceTimersByTimeAsync(seen.errors[1]!.info.delayMs!);
    await until(() => expect(seen.waits).toHaveLength(1));
    await vi.advanceTimersByTimeAsync(seen.waits[0]!.delayMs);
    await until(() => expect(seen.errors).toHaveLength(3));
    sub.close();
    await sub.closed;
    expect(sent).toHaveLength(4);
    expect(seen.waits).toEqual([{ reason: 'unavailable', delayMs: 1500 }]);
    expect(seen.errors.map(({ error, info }) => [error.message, info])).toEqual([
      ['The hub ended the stream.', { willRetry: true, delayMs: 300, attempt: 1 }],
      ['fetch failed', { willRetry: true, delayMs: 600, attempt: 2 }],
      ['fetch failed', { willRetry: true, delayMs: 1200, attempt: 3 }],
    ]);
  });

  it("an onWait that throws ends it with that error, as onEvent's exceptions do", async () => {
    const failure = new Error('wait handler failed');
    const { fetch, sent } = scriptedFetch(sse('retry: 10000\n: channel_full\n\n'));
    const { sub, seen } = recorded({
      channel: 'orders',
      fetch,
      onWait: () => {
        throw failure;
      },
    });
    await expect(sub.closed).resolves.toEqual({ type: 'error', error: failure });
    expect(seen.errors).toEqual([{ error: failure, info: { willRetry: false, attempt: 1 } }]);
    expect(seen.closes).toEqual([{ type: 'error', error: failure }]);
    expect(sent).toHaveLength(1);
  });

  it('a stream that ends right after a bare retry: (the hub recycled it) reconnects quietly after the usual delay, from the last id', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const next = liveStream();
    const { fetch, sent } = scriptedFetch(sse('retry: 100\nid: 0\n: connected\n\nid: 1\ndata: one\n\n: heartbeat\n\nretry: 100\n\n'), next.response);
    const { sub, seen } = recorded({ channel: 'orders', lastEventId: '0', fetch, idleTimeoutMs: 0 });
    await until(() => expect(seen.events).toHaveLength(1));
    await until(() => expect(vi.getTimerCount()).toBe(1)); // the delay before the next connection
    // As after any stream that opened: retry: 100 is the base, so 100–200 ms, 150 with this random.
    await vi.advanceTimersByTimeAsync(149);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => expect(sent).toHaveLength(2));

    next.write('retry: 100\n: connected\n\nid: 2\ndata: two\n\n');
    await until(() => expect(seen.events).toHaveLength(2));
    sub.close();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(sent.map((s) => s.headers['last-event-id'])).toEqual(['0', '1']);
    expect(plain(seen.events).map((e) => [e.id, e.data])).toEqual([
      ['1', 'one'],
      ['2', 'two'],
    ]);
    expect(sub.lastEventId).toBe('2');
    expect(seen.errors).toEqual([]);
    expect(seen.waits).toEqual([]);
    expect(seen.opens).toBe(2);
  });

  it('after a recycled stream the failures in a row count from 1 again', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0);
    const { fetch } = scriptedFetch(
      sse('retry: 100\n: connected\n\n'), // ends: failure 1
      new TypeError('fetch failed'), // failure 2
      sse('retry: 100\n: connected\n\nretry: 100\n\n'), // recycled
      new TypeError('fetch failed'), // failure 1
    );
    const { sub, seen } = recorded({ channel: 'orders', fetch, idleTimeoutMs: 0 });
    await until(() => expect(seen.errors).toHaveLength(1));
    await vi.advanceTimersByTimeAsync(seen.errors[0]!.info.delayMs!);
    await until(() => expect(seen.errors).toHaveLength(2));
    await vi.advanceTimersByTimeAsync(seen.errors[1]!.info.delayMs!);
    await until(() => expect(seen.opens).toBe(2));
    await vi.advanceTimersByTimeAsync(100); // the usual delay, with this random
    await until(() => expect(seen.errors).toHaveLength(3));
    sub.close();
    await sub.closed;
    expect(seen.errors.map(({ error, info }) => [error.message, info])).toEqual([
      ['The hub ended the stream.', { willRetry: true, delayMs: 100, attempt: 1 }],
      ['fetch failed', { willRetry: true, delayMs: 200, attempt: 2 }],
      ['fetch failed', { willRetry: true, delayMs: 100, attempt: 1 }],
    ]);
  });

  it.each([
    ["a resumed stream's opening (no id:), and nothing more", 'retry: 100\n: connected\n\n', 1],
    ['events, without a retry: at the end', 'retry: 100\nid: 0\n: connected\n\nid: 1\ndata: one\n\n', 1],
    ['a retry: that a heartbeat followed', 'retry: 100\n: connected\n\nretry: 100\n\n: heartbeat\n\n', 1],
    ['a retry: that an event followed', 'retry: 100\n: connected\n\nretry: 100\n\nid: 1\ndata: one\n\n', 1],
    ["a wait's reason once the stream had opened", 'retry: 100\n: connected\n\nretry: 100\n: channel_full\n\n', 1],
    ['a reason the client does not know', 'retry: 100\n: draining\n\n', 1],
    ["a wait's reason without retry:", ': channel_full\n\n', 0],
    ['a bare retry: and nothing else (no opening)', 'retry: 100\n\n', 0],
  ])('a stream of %s that ends is still "The hub ended the stream.", retried', async (_, text, opens) => {
    const { fetch } = scriptedFetch(sse(text));
    const { sub, seen } = recorded({ channel: 'orders', fetch });
    await until(() => expect(seen.errors).toHaveLength(1));
    sub.close();
    await sub.closed;
    expect(seen.errors.map(({ error, info }) => [error.message, info.willRetry, info.attempt])).toEqual([['The hub ended the stream.', true, 1]]);
    expect(seen.waits).toEqual([]);
    expect(seen.opens).toBe(opens);
  });

  it('a stream that goes silent for idleTimeoutMs (not even a heartbeat) is dropped and resumed from the last id, as an error that is retried', async () => {
    const stalled = liveStream();
    const next = liveStream();
    const { fetch, sent } = scriptedFetch(stalled.response, next.response);
    const { sub, seen } = recorded({ channel: 'orders', lastEventId: '0', fetch, idleTimeoutMs: 200 });
    // The opening and two events, then nothing: the connection died without a word.
    stalled.write('retry: 100\nid: 0\n: connected\n\nid: 1\ndata: one\n\nid: 2\ndata: two\n\n');
    await until(() => expect(sent).toHaveLength(2));
    next.write('retry: 100\n: connected\n\nid: 3\ndata: three\n\n');
    await until(() => expect(seen.events).toHaveLength(3));
    sub.close();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });

    expect(stalled.cancelled()).toBe(true);
    expect(sent[1]!.headers['last-event-id']).toBe('2');
    expect(plain(seen.events).map((e) => [e.id, e.data])).toEqual([
      ['1', 'one'],
      ['2', 'two'],
      ['3', 'three'],
    ]);
    const [first] = seen.errors;
    expect([first!.error.message, first!.info.willRetry, first!.info.attempt]).toEqual([
      'The connection was idle for 200 ms: no bytes from the hub, not even a heartbeat.',
      true,
      1,
    ]);
    // retry: 100 is the base, as after any broken stream.
    expect(first!.info.delayMs).toBeGreaterThanOrEqual(100);
    expect(first!.info.delayMs).toBeLessThanOrEqual(200);
    // A slow test run may let the second stream go idle too: that is the same error again.
    for (const { error, info } of seen.errors) expect([error.message, info.willRetry]).toEqual([first!.error.message, true]);
  });

  it('only silence counts: every byte (a heartbeat too) restarts the clock; a request never answered times out as well; close() leaves no timer', async () => {
    vi.useFakeTimers();
    const stream = liveStream();
    const { fetch, sent } = scriptedFetch(stream.response); // later requests are never answered
    const { sub, seen } = recorded({ channel: 'orders', fetch, idleTimeoutMs: 200 });
    stream.write('retry: 100\nid: 0\n: connected\n\n');
    await until(() => expect(seen.opens).toBe(1));
    // 150 ms between writes, 600 ms in all: never 200 ms of silence.
    await vi.advanceTimersByTimeAsync(150);
    stream.write('id: 1\ndata: one\n\n');
    await until(() => expect(seen.events).toHaveLength(1));
    for (let beat = 0; beat < 3; beat++) {
      await vi.advanceTimersByTimeAsync(150);
      stream.write(': heartbeat\n\n');
      await settle();
    }
    await vi.advanceTimersByTimeAsync(199);
    expect(seen.errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => expect(seen.errors).toHaveLength(1));
    expect(stream.cancelled()).toBe(true);

    // The reconnection hangs before any answer: given up on after 200 ms too, one more failure in a row.
    await vi.advanceTimersByTimeAsync(seen.errors[0]!.info.delayMs!);
    await until(() => expect(sent).toHaveLength(2));
    await vi.advanceTimersByTimeAsync(199);
    expect(seen.errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => expect(seen.errors).toHaveLength(2));
    expect(seen.errors.map(({ error, info }) => [error.message, info.willRetry, info.attempt])).toEqual([
      ['The connection was idle for 200 ms: no bytes from the hub, not even a heartbeat.', true, 1],
      ['The connection was idle for 200 ms: no bytes from the hub, not even a heartbeat.', true, 2],
    ]);

    await vi.advanceTimersByTimeAsync(seen.errors[1]!.info.delayMs!);
    await until(() => expect(sent).toHaveLength(3));
    expect(vi.getTimerCount()).toBe(1); // the third request's idle timer
    sub.close();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sent.map((s) => s.headers['last-event-id'])).toEqual([undefined, '1', '1']);
    expect(seen.errors).toHaveLength(2);
  });

  it('idleTimeoutMs: 0 never gives up on a silent stream, and sets no timer', async () => {
    vi.useFakeTimers();
    const stream = liveStream();
    const { fetch, sent } = scriptedFetch(stream.response);
    const { sub, seen } = recorded({ channel: 'orders', fetch, idleTimeoutMs: 0 });
    stream.write('retry: 100\nid: 0\n: connected\n\n');
    await until(() => expect(seen.opens).toBe(1));
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(seen.errors).toEqual([]);
    expect(stream.cancelled()).toBe(false);
    sub.close();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(sent).toHaveLength(1);
  });

  it.each([
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [400, 'invalid_channel'],
    [404, 'not_found'],
  ])('%i %s is final: onError with willRetry false, closed with the error, one request only', async (status, code) => {
    const { fetch, sent } = scriptedFetch(errorAnswer(status, code));
    const { sub, seen } = recorded({ channel: 'private-x', fetch });
    const reason = await sub.closed;
    expect(reason).toEqual({ type: 'error', error: expect.objectContaining({ status, code }) });
    expect(reason.type === 'error' && reason.error).toBeInstanceOf(HeraldError);
    expect(seen.errors.map((e) => [e.error, e.info])).toEqual([[reason.type === 'error' && reason.error, { willRetry: false, attempt: 1 }]]);
    expect(seen.closes).toEqual([reason]);
    expect(sent).toHaveLength(1);
  });

  it('204 (a deleted channel) ends it as deleted, without an error', async () => {
    const { fetch, sent } = scriptedFetch(new Response(null, { status: 204 }));
    const { sub, seen } = recorded({ channel: 'gone', fetch });
    await expect(sub.closed).resolves.toEqual({ type: 'deleted' });
    expect(seen.errors).toEqual([]);
    expect(seen.closes).toEqual([{ type: 'deleted' }]);
    expect(sent).toHaveLength(1);
  });

  it('a close event ends it as deleted and cancels the stream, nothing after it delivered', async () => {
    const stream = liveStream();
    const { fetch, sent } = scriptedFetch(stream.response);
    const { sub, seen } = recorded({ channel: 'orders', fetch });
    stream.write('retry: 2000\nid: 0\n: connected\n\nid: 1\ndata: x\n\nevent: close\ndata: {"reason":"deleted"}\n\nid: 2\ndata: late\n\n');
    await expect(sub.closed).resolves.toEqual({ type: 'deleted' });
    expect(plain(seen.events).map((e) => e.id)).toEqual(['1']);
    expect(sub.lastEventId).toBe('1');
    expect(stream.cancelled()).toBe(true);
    expect(seen.errors).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('a 200 that is not an event stream is final (invalid_stream), as for EventSource', async () => {
    const { fetch, sent } = scriptedFetch(new Response('<html></html>', { headers: { 'Content-Type': 'text/html' } }));
    const { sub } = recorded({ channel: 'orders', fetch });
    await expect(sub.closed).resolves.toEqual({ type: 'error', error: expect.objectContaining({ status: 200, code: 'invalid_stream' }) });
    expect(sent).toHaveLength(1);
  });

  it('an onEvent that throws ends it with that error; lastEventId stays at the last event handled, and nothing more is delivered', async () => {
    const failure = new Error('handler failed');
    const { fetch, sent } = scriptedFetch(sse('retry: 100\n: connected\n\nid: 5\ndata: a\n\nid: 6\ndata: b\n\nid: 7\ndata: c\n\n'));
    const { sub, seen } = recorded({
      channel: 'orders',
      lastEventId: '4',
      fetch,
      onEvent: (event) => {
        if (event.id === '6') throw failure;
      },
    });
    await expect(sub.closed).resolves.toEqual({ type: 'error', error: failure });
    expect(plain(seen.events).map((e) => e.id)).toEqual(['5', '6']);
    expect(sub.lastEventId).toBe('5');
    expect(seen.errors).toEqual([{ error: failure, info: { willRetry: false, attempt: 1 } }]);
    expect(sent).toHaveLength(1);
  });

  it('an onOpen that throws ends it before any event, the cursor where it was', async () => {
    const failure = new Error('open handler failed');
    const { fetch, sent } = scriptedFetch(sse('id: 5\ndata: a\n\n'));
    const delivered: HeraldEvent[] = [];
    const sub = subscribe(HUB, {
      channel: 'orders',
      lastEventId: '4',
      fetch,
      onOpen: () => {
        throw failure;
      },
      onEvent: (event) => delivered.push(event),
    });
    await expect(sub.closed).resolves.toEqual({ type: 'error', error: failure });
    expect(sub.lastEventId).toBe('4');
    expect(delivered).toEqual([]);
    expect(sent).toHaveLength(1);
  });

  it('an onClose that throws does not reject closed: it resolves with the reason, and the exception goes to console.error', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const failure = new Error('onClose failed');
    const { fetch } = scriptedFetch(new Response(null, { status: 204 }));
    const sub = subscribe(HUB, {
      channel: 'gone',
      fetch,
      onEvent: () => {},
      onClose: () => {
        throw failure;
      },
    });
    await expect(sub.closed).resolves.toEqual({ type: 'deleted' });
    expect(logged).toHaveBeenCalledExactlyOnceWith('Herald subscribe(): onClose threw', failure);
  });

  it('close() inside onEvent stops delivery at that event, even within one chunk', async () => {
    const { fetch, sent } = scriptedFetch(sse('retry: 100\n: connected\n\nid: 5\ndata: a\n\nid: 6\ndata: b\n\nid: 7\ndata: c\n\n'));
    const { sub, seen } = recorded({
      channel: 'orders',
      lastEventId: '4',
      fetch,
      onEvent: (event) => {
        if (event.id === '6') sub.close();
      },
    });
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(plain(seen.events).map((e) => e.id)).toEqual(['5', '6']);
    expect(sub.lastEventId).toBe('6');
    expect(sent).toHaveLength(1);
  });

  it('aborting the signal while a reconnection is pending ends it: closed settles, no timer is left, no request follows', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const { fetch, sent } = scriptedFetch(new TypeError('fetch failed'));
    const { sub, seen } = recorded({ channel: 'orders', fetch, signal: controller.signal });
    await until(() => expect(seen.errors).toHaveLength(1));
    expect(vi.getTimerCount()).toBe(1); // the pending reconnection
    controller.abort();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sent).toHaveLength(1);
    expect(seen.closes).toEqual([{ type: 'closed' }]);
  });

  it('aborting the signal while the stream is open cancels it; no timer is left', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const stream = liveStream();
    const { fetch, sent } = scriptedFetch(stream.response);
    const { sub, seen } = recorded({ channel: 'orders', fetch, signal: controller.signal });
    stream.write('retry: 100\nid: 3\n: connected\n\n');
    await until(() => expect(seen.opens).toBe(1));
    controller.abort();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(stream.cancelled()).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(sent).toHaveLength(1);
    expect(seen.errors).toEqual([]);
  });

  it('an already aborted signal makes no request at all', async () => {
    const { fetch, sent } = scriptedFetch();
    const { sub, seen } = recorded({ channel: 'orders', fetch, signal: AbortSignal.abort() });
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(sent).toEqual([]);
    expect(seen.closes).toEqual([{ type: 'closed' }]);
  });

  it.each([
    ['neither channel nor channels', {}, 'subscribe() takes exactly one of `channel` and `channels`.'],
    ['both', { channel: 'a', channels: ['b'] }, 'subscribe() takes exactly one of `channel` and `channels`.'],
    ['no channels', { channels: [] }, 'subscribe(): `channels` needs at least one channel.'],
    [
      'token and an Authorization header',
      { channel: 'a', token: 't', headers: { authorization: 'Bearer u' } },
      'subscribe(): give the credential as `token` or as an Authorization header, not both.',
    ],
    ['a Last-Event-ID header', { channel: 'a', headers: { 'Last-Event-ID': '4' } }, 'subscribe(): give the resume point as `lastEventId`, not as a header.'],
  ])('refuses %s with a TypeError', (_, options, message) => {
    expect(() => subscribe(HUB, { ...options, onEvent: () => {} })).toThrow(new TypeError(message));
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31])('refuses idleTimeoutMs %d with a RangeError that names it', (idleTimeoutMs) => {
    expect(() => subscribe(HUB, { channel: 'a', idleTimeoutMs, onEvent: () => {} })).toThrow(
      new RangeError(`idleTimeoutMs must be a number of ms from 0 (none) to 2147483647, got ${idleTimeoutMs}.`),
    );
  });
});

// ---------------------------------------------------------------- subscribe, several channels

describe('subscribe({ channels }) — docs/api.md', () => {
  it('asks /v1/events with the channels in order, unwraps envelopes, tracks the cursor, and goes on after one channel closes', async () => {
    const stream = liveStream();
    const { fetch, sent } = scriptedFetch(stream.response);
    const { sub, seen } = recorded({ channels: ['a', 'b'], fetch });

    stream.write('retry: 2000\nid: 0.4\n: connected\n\n');
    await until(() => expect(sub.lastEventId).toBe('0.4'));
    stream.write(
      'id: 1.4\ndata: {"channel":"a","id":"1","data":"x"}\n\n' +
        'id: 1.5\nevent: tick\ndata: {"channel":"b","id":"5","data":"{\\"n\\":1}"}\n\n' +
        'event: gap\ndata: {"channel":"a","lastEventId":"1","oldestId":"3","latestId":"4"}\n\n' +
        'event: close\ndata: {"channel":"a","reason":"deleted"}\n\n' +
        'id: 1.6\ndata: {"channel":"b","id":"6","data":"line 1\\nline 2"}\n\n',
    );
    await until(() => expect(seen.events).toHaveLength(3));
    expect(plain(seen.events)).toEqual([
      { channel: 'a', id: '1', event: 'message', data: 'x', cursor: '1.4' },
      { channel: 'b', id: '5', event: 'tick', data: '{"n":1}', cursor: '1.5' },
      { channel: 'b', id: '6', event: 'message', data: 'line 1\nline 2', cursor: '1.6' },
    ]);
    expect(seen.events[1]!.json()).toEqual({ n: 1 });
    expect(seen.gaps).toEqual([{ channel: 'a', lastEventId: '1', oldestId: '3', latestId: '4' }]);
    expect(sub.lastEventId).toBe('1.6');

    // The last channel closes: the hub ends the stream, and the subscription is over.
    stream.write('event: close\ndata: {"channel":"b","reason":"deleted"}\n\n');
    await expect(sub.closed).resolves.toEqual({ type: 'deleted' });
    expect(stream.cancelled()).toBe(true);
    expect(seen.errors).toEqual([]);
    expect(sent.map((s) => [s.url, s.headers['last-event-id']])).toEqual([[`${HUB}/v1/events?channel=a&channel=b`, undefined]]);
  });

  it('resumes with the whole cursor as Last-Event-ID, also after a stream where only some channels closed', async () => {
    const { fetch, sent } = scriptedFetch(
      sse('retry: 100\n: connected\n\nid: 3.0.1\ndata: {"channel":"a","id":"3","data":"p"}\n\n'),
      sse('retry: 100\n: connected\n\nevent: close\ndata: {"channel":"b","reason":"deleted"}\n\nid: 3.0.2\ndata: {"channel":"c","id":"2","data":"q"}\n\n'),
      new Response(null, { status: 204 }),
    );
    const { sub, seen } = recorded({ channels: ['a', 'b', 'c'], lastEventId: '0', fetch });
    await expect(sub.closed).resolves.toEqual({ type: 'deleted' });
    expect(sent.map((s) => s.headers['last-event-id'])).toEqual(['0', '3.0.1', '3.0.2']);
    expect(plain(seen.events).map((e) => [e.channel, e.id, e.data, e.cursor])).toEqual([
      ['a', '3', 'p', '3.0.1'],
      ['c', '2', 'q', '3.0.2'],
    ]);
    expect(seen.errors.map((e) => [e.error.message, e.info.willRetry])).toEqual([
      ['The hub ended the stream.', true],
      ['The hub ended the stream.', true],
    ]);
  });

  it('tells onChannelClose of each deleted channel once, though a reconnected stream says it again', async () => {
    const close = (channel: string) => `event: close\ndata: {"channel":"${channel}","reason":"deleted"}\n\n`;
    const { fetch, sent } = scriptedFetch(
      sse(`retry: 100\nid: 0.0\n: connected\n\n${close('b')}`),
      sse(`retry: 100\nid: 0.0\n: connected\n\n${close('b')}id: 1.0\ndata: {"channel":"a","id":"1","data":"x"}\n\n${close('a')}`),
    );
    const { sub, seen } = recorded({ channels: ['a', 'b'], fetch });
    await expect(sub.closed).resolves.toEqual({ type: 'deleted' });
    expect(seen.channelCloses).toEqual(['b', 'a']);
    expect(plain(seen.events).map((e) => [e.channel, e.id])).toEqual([['a', '1']]);
    expect(sent).toHaveLength(2);
  });

  it('a wait on /v1/events (one channel of the set full or unavailable) is no error: the same cursor again after the wait', async () => {
    vi.useFakeTimers();
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const stream = liveStream();
    const { fetch, sent } = scriptedFetch(sse('retry: 1500\n: unavailable\n\n'), stream.response);
    const { sub, seen } = recorded({ channels: ['a', 'b'], lastEventId: '3.0', fetch, idleTimeoutMs: 0 });
    await until(() => expect(seen.waits).toEqual([{ reason: 'unavailable', delayMs: 1575 }]));
    await vi.advanceTimersByTimeAsync(1574);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => expect(sent).toHaveLength(2));
    stream.write('retry: 2000\n: connected\n\nid: 3.1\ndata: {"channel":"b","id":"1","data":"x"}\n\n');
    await until(() => expect(seen.events).toHaveLength(1));
    sub.close();
    await expect(sub.closed).resolves.toEqual({ type: 'closed' });
    expect(sent.map((s) => [s.url, s.headers['last-event-id']])).toEqual([
      [`${HUB}/v1/events?channel=a&channel=b`, '3.0'],
      [`${HUB}/v1/events?channel=a&channel=b`, '3.0'],
    ]);
    expect(plain(seen.events)).toEqual([{ channel: 'b', id: '1', event: 'message', data: 'x', cursor: '3.1' }]);
    expect(seen.errors).toEqual([]);
    expect(seen.opens).toBe(1);
  });

  it('a recycled stream on /v1/events resumes quietly with the whole cursor', async () => {
    const { fetch, sent } = scriptedFetch(
      sse('retry: 100\nid: 0.0\n: connected\n\nid: 1.0\ndata: {"channel":"a","id":"1","data":"x"}\n\nretry: 100\n\n'),
      new Response(null, { status: 204 }),
    );
    const { sub, seen } = recorded({ channels: ['a', 'b'], fetch });
    await expect(sub.closed).resolves.toEqual({ type: 'deleted' });
    expect(sent.map((s) => s.headers['last-event-id'])).toEqual([undefined, '1.0']);
    expect(seen.errors).toEqual([]);
  });

  it('an event whose data is not an envelope ends it as invalid_stream, the cursor not moved past it', async () => {
    const { fetch, sent } = scriptedFetch(
      sse('retry: 100\nid: 0.0\n: connected\n\nid: 1.0\ndata: {"channel":"a","id":"1","data":"x"}\n\nid: 2.0\ndata: plain text\n\n'),
    );
    const { sub, seen } = recorded({ channels: ['a', 'b'], fetch });
    const reason = await sub.closed;
    expect(reason).toEqual({ type: 'error', error: expect.objectContaining({ status: 200, code: 'invalid_stream' }) });
    expect(sub.lastEventId).toBe('1.0');
    expect(plain(seen.events).map((e) => e.cursor)).toEqual(['1.0']);
    expect(seen.errors).toHaveLength(1);
    expect(sent).toHaveLength(1);
  });
});

// ---------------------------------------------------------------- publish

describe('publish', () => {
  const ack = (ids: string[], replayed = false) =>
    Response.json({ channel: 'orders', ids, subscribers: 2 }, { status: 201, headers: replayed ? { 'Idempotent-Replayed': 'true' } : {} });
  const events = [{ data: 'a' }, { event: 'tick', data: { n: 1 } }];
  const fast = { initialMs: 0, maxMs: 0 };

  it('POSTs the batch as JSON with the key and one random Idempotency-Key, the same on every retry', async () => {
    const { fetch, sent } = scriptedFetch(new TypeError('fetch failed'), errorAnswer(503, 'unavailable', { 'Retry-After': '0' }), ack(['41', '42'], true));
    const result = await publish(`${HUB}/`, 'herald-dev-key', events, { channel: 'orders', fetch, backoff: fast });
    expect(result).toEqual({ channel: 'orders', ids: ['41', '42'], subscribers: 2, replayed: true, idempotencyKey: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(sent).toHaveLength(3);
    for (const request of sent) {
      expect(request).toEqual({
        url: `${HUB}/v1/channels/orders/events`,
        method: 'POST',
        headers: { authorization: 'Bearer herald-dev-key', 'content-type': 'application/json', 'idempotency-key': result.idempotencyKey },
        body: '{"events":[{"data":"a"},{"event":"tick","data":{"n":1}}]}',
      });
    }
  });

  it('sends the given Idempotency-Key, and a call that needs no retry is not a replay', async () => {
    const { fetch, sent } = scriptedFetch(ack(['7']));
    const result = await publish(HUB, 'k', [{ data: 'x' }], { channel: 'orders', idempotencyKey: 'import-2026-11-25', fetch });
    expect(result).toEqual({ channel: 'orders', ids: ['7'], subscribers: 2, replayed: false, idempotencyKey: 'import-2026-11-25' });
    expect(sent.map((s) => s.headers['idempotency-key'])).toEqual(['import-2026-11-25']);
  });

  it('two calls generate two different keys', async () => {
    const { fetch, sent } = scriptedFetch(ack(['1']), ack(['2']));
    await publish(HUB, 'k', [{ data: 'x' }], { channel: 'orders', fetch });
    await publish(HUB, 'k', [{ data: 'x' }], { channel: 'orders', fetch });
    expect(sent[0]!.headers['idempotency-key']).not.toBe(sent[1]!.headers['idempotency-key']);
  });

  it.each([
    [400, 'invalid_payload'],
    [401, 'unauthorized'],
    [403, 'forbidden'],
    [413, 'payload_too_large'],
    [422, 'idempotency_key_reused'],
  ])('%i %s is thrown as a HeraldError at once, never retried', async (status, code) => {
    const { fetch, sent } = scriptedFetch(errorAnswer(status, code), ack(['1']));
    const failure = publish(HUB, 'k', events, { channel: 'orders', fetch, backoff: fast });
    await expect(failure).rejects.toBeInstanceOf(HeraldError);
    await expect(failure).rejects.toMatchObject({ status, code });
    expect(sent).toHaveLength(1);
  });

  it('gives up after `retries` retries with the last error', async () => {
    const { fetch, sent } = scriptedFetch(errorAnswer(500, 'internal_error'), errorAnswer(503, 'unavailable'), new TypeError('fetch failed'), ack(['1']));
    await expect(publish(HUB, 'k', events, { channel: 'orders', fetch, retries: 2, backoff: fast })).rejects.toThrow(new TypeError('fetch failed'));
    expect(sent).toHaveLength(3);
  });

  it('retries: 0 makes one attempt', async () => {
    const { fetch, sent } = scriptedFetch(errorAnswer(503, 'unavailable'), ack(['1']));
    await expect(publish(HUB, 'k', events, { channel: 'orders', fetch, retries: 0 })).rejects.toMatchObject({ status: 503, code: 'unavailable' });
    expect(sent).toHaveLength(1);
  });

  it("aborting while it waits to retry rejects with the signal's reason; no timer is left and no request follows", async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const { fetch, sent } = scriptedFetch(new TypeError('fetch failed'), ack(['1']));
    const failure = publish(HUB, 'k', events, { channel: 'orders', fetch, signal: controller.signal });
    await until(() => expect(vi.getTimerCount()).toBe(1));
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(failure).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(sent).toHaveLength(1);
  });

  it('a 201 whose body is not {channel, ids, subscribers} is invalid_response', async () => {
    const { fetch } = scriptedFetch(new Response('{"ids":[1]}', { status: 201 }));
    await expect(publish(HUB, 'k', events, { channel: 'orders', fetch })).rejects.toMatchObject({ status: 201, code: 'invalid_response' });
  });

  it('refuses retries that are not a whole number ≥ 0', async () => {
    await expect(publish(HUB, 'k', events, { channel: 'orders', retries: -1 })).rejects.toThrow(
      new RangeError('publish(): retries must be a whole number ≥ 0, got -1.'),
    );
  });
});
