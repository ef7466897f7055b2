// The client library (client/): its pure parts.
import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveBackoff, DEFAULT_BACKOFF } from '../client/backoff.ts';
import { HeraldError, isRetryableStatus, parseError, retryAfterMs } from '../client/errors.ts';
import { interpret, type Target } from '../client/messages.ts';
import { channelEventsUrl, multiEventsUrl } from '../client/urls.ts';

const HUB = 'https://hub.test';

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
  it('reads the hub\'s JSON error body', () => {
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
    ['a proxy\'s HTML page', 502, '<html>Bad gateway</html>', 'http_502', 'The hub answered 502: <html>Bad gateway</html>.'],
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
    [400, false], [401, false], [403, false], [404, false], [409, false], [413, false], [422, false],
    [408, true], [429, true], [500, true], [502, true], [503, true], [504, true],
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
    expect(multiEventsUrl('https://example.com/herald', ['b', 'a', 'c']).href).toBe(
      'https://example.com/herald/v1/events?channel=b&channel=a&channel=c',
    );
  });

  it('percent-encodes the channel, so a "/" or "?" in it cannot reach another path', () => {
    expect(channelEventsUrl(HUB, 'a/b?c').href).toBe(`${HUB}/v1/channels/a%2Fb%3Fc/events`);
    expect(channelEventsUrl(HUB, 'user:1@x~y').href).toBe(`${HUB}/v1/channels/user%3A1%40x~y/events`);
  });
});

describe('interpret: one channel (API.md)', () => {
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

  it('close is the channel\'s', () => {
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

  it('unwraps the envelope: channel, the event\'s own id and the data from it, the stream\'s id as cursor', () => {
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
