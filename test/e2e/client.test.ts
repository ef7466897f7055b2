/**
 * The TypeScript client (client/) against the real Worker under `wrangler dev`: credentials
 * in headers, a restart that loses nothing, backoff while the hub is down, deleted
 * channels, gaps, aborting, a full channel's wait, and publish retries that never publish twice.
 *
 * One hub serves most tests (RETRY_MS=500 so reconnections come quickly,
 * HISTORY_MAX_EVENTS=3 so a gap is easy to make, HEARTBEAT_SECONDS=1 so a client that
 * left is found quickly); the restart tests own theirs.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  HeraldError,
  publish,
  subscribe,
  type CloseReason,
  type ErrorInfo,
  type Fetch,
  type Gap,
  type HeraldEvent,
  type SubscribeOptions,
  type Wait,
} from '../../client/index.ts';
import { idRange } from './clients';
import { testSetup } from './restarts';
import { AUTH, PUBLISH_KEY, removeDir, request, sleep, startHub, tempDir, uniqueChannel, until, untilSubscribers, within, type Hub } from './hub';

const run = promisify(execFile);
const TOKEN_SCRIPT = new URL('../../scripts/token.mjs', import.meta.url).pathname;

const SHARED_VARS = { RETRY_MS: 500, HISTORY_MAX_EVENTS: 3, HEARTBEAT_SECONDS: 1 };

let hub: Hub;
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  hub = await startHub({ persistTo: dir, vars: SHARED_VARS });
});

afterAll(async () => {
  await hub?.stop();
  if (dir) await removeDir(dir);
});

/** A token from `npm run token` (scripts/token.mjs), signed with the JWT_SECRET of .dev.vars. */
async function mintToken(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [TOKEN_SCRIPT, ...args]);
  return stdout.trim();
}

/**
 * The platform's fetch, watched: `sent` holds each request's headers; `cut()` breaks the
 * current response's body (the connection drops); `stall()` lets nothing more of it
 * through, while it stays open (the connection died without a word); `hold()` makes later
 * requests wait until `release()`, so that events published meanwhile can only arrive by replay.
 */
function watchedFetch() {
  const sent: Array<Record<string, string>> = [];
  let gate = Promise.resolve();
  let release = (): void => {};
  let cutCurrent = (): void => {};
  let stallCurrent = (): void => {};
  const fetcher: Fetch = async (url, init) => {
    sent.push(Object.fromEntries(init.headers));
    // Closing the subscription opens the gate too (fetch then rejects at once): a failed
    // test must not leave it waiting forever.
    await new Promise<void>((resolve) => {
      void gate.then(resolve);
      init.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    const res = await fetch(url, init);
    if (res.body === null) return res;
    let controller!: TransformStreamDefaultController<Uint8Array>;
    let stalled = false;
    const body = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        start: (c) => {
          controller = c;
        },
        transform: (chunk, c) => {
          if (!stalled) c.enqueue(chunk);
        },
      }),
    );
    cutCurrent = () => controller.error(new TypeError('connection cut by the test'));
    stallCurrent = () => {
      stalled = true;
    };
    return new Response(body, res);
  };
  return {
    fetch: fetcher,
    sent,
    cut: () => cutCurrent(),
    stall: () => stallCurrent(),
    hold: () => {
      gate = new Promise((resolve) => (release = resolve));
    },
    release: () => release(),
  };
}

/** subscribe() with every callback recorded in order, closed when the test finishes. */
function observe(base: string, options: Omit<SubscribeOptions, 'onEvent'> & { onError?: SubscribeOptions['onError'] }) {
  const seen = {
    events: [] as HeraldEvent[],
    /** Every callback in order: `open`, `event <channel> <id> <data>`, `gap …`, `wait …`, `error …`, `close …`. */
    log: [] as string[],
    gaps: [] as Gap[],
    errors: [] as Array<{ error: Error; info: ErrorInfo }>,
    opens: 0,
    closes: [] as CloseReason[],
    waits: [] as Wait[],
  };
  const sub = subscribe(base, {
    ...options,
    onEvent: (event) => {
      seen.events.push(event);
      seen.log.push(`event ${event.channel} ${event.id} ${event.data}`);
    },
    onGap: (gap) => {
      seen.gaps.push(gap);
      seen.log.push(`gap ${gap.channel} ${gap.lastEventId}`);
    },
    onOpen: () => {
      seen.opens += 1;
      seen.log.push('open');
    },
    onError: (error, info) => {
      seen.errors.push({ error, info });
      seen.log.push(`error ${error.message}`);
      options.onError?.(error, info);
    },
    onClose: (reason) => {
      seen.closes.push(reason);
      seen.log.push(`close ${reason.type}`);
    },
    onWait: (wait) => {
      seen.waits.push(wait);
      seen.log.push(`wait ${wait.reason}`);
    },
  });
  onTestFinished(async () => {
    sub.close();
    await within(sub.closed, 10_000, 'the subscription to close at the end of the test');
  });
  const waitFor = (check: () => boolean, ms: number, what: string) =>
    until(check, ms, what, { describe: () => `${seen.log.length} callbacks: ${seen.log.slice(-12).join(' | ')}` });
  return { sub, seen, waitFor };
}

const ids = (events: readonly HeraldEvent[]) => events.map((e) => e.id);

describe('subscribe(): credentials reach the hub (docs/api.md "Auth")', () => {
  it('a private channel with a subscribe token as `token` or in `headers` gets its events; without one, a final 401', async () => {
    const channel = uniqueChannel('private-e2e');
    const token = await mintToken('--subscribe', 'private-e2e-*', '--ttl', '10m');
    const withToken = observe(hub.url, { channel, token });
    const withHeader = observe(hub.url, { channel, headers: { Authorization: `Bearer ${token}` } });
    await withToken.waitFor(() => withToken.seen.opens === 1, 10_000, 'the token subscription to open');
    await withHeader.waitFor(() => withHeader.seen.opens === 1, 10_000, 'the header subscription to open');

    expect((await hub.publish(channel, 'secret 1')).ids).toEqual(['1']);
    expect((await hub.publish(channel, { event: 'note', data: { n: 2 } })).ids).toEqual(['2']);
    for (const { seen, waitFor } of [withToken, withHeader]) {
      await waitFor(() => seen.events.length === 2, 10_000, 'events 1 and 2');
      expect(seen.events.map(({ channel: c, id, event, data, cursor }) => ({ c, id, event, data, cursor }))).toEqual([
        { c: channel, id: '1', event: 'message', data: 'secret 1', cursor: '1' },
        { c: channel, id: '2', event: 'note', data: '{"n":2}', cursor: '2' },
      ]);
      expect(seen.events[1]!.json()).toEqual({ n: 2 });
      expect(seen.errors).toEqual([]);
    }

    const watched = watchedFetch();
    const without = observe(hub.url, { channel, fetch: watched.fetch });
    const reason = await within(without.sub.closed, 10_000, 'the subscription without a token to end');
    expect(reason).toEqual({ type: 'error', error: expect.objectContaining({ status: 401, code: 'unauthorized' }) });
    expect(reason.type === 'error' && reason.error).toBeInstanceOf(HeraldError);
    expect(without.seen.errors.map(({ error, info }) => [error, info])).toEqual([[reason.type === 'error' && reason.error, { willRetry: false, attempt: 1 }]]);
    expect(without.seen.events).toEqual([]);
    expect(watched.sent).toHaveLength(1);
  });

  it('a token for other channels gets a final 403 forbidden', async () => {
    const token = await mintToken('--subscribe', 'private-other-*', '--ttl', '10m');
    const { sub, seen } = observe(hub.url, { channel: uniqueChannel('private-e2e'), token });
    await expect(within(sub.closed, 10_000, 'the subscription to end')).resolves.toEqual({
      type: 'error',
      error: expect.objectContaining({ status: 403, code: 'forbidden' }),
    });
    expect(seen.errors.map((e) => e.info)).toEqual([{ willRetry: false, attempt: 1 }]);
  });
});

describe('subscribe(): the end of a channel, gaps, aborting', () => {
  it('a channel deleted while subscribed ends it as deleted (close event); subscribing to it then answers 204, also final', async () => {
    const channel = uniqueChannel();
    const watched = watchedFetch();
    const { sub, seen, waitFor } = observe(hub.url, { channel, fetch: watched.fetch });
    await waitFor(() => seen.opens === 1, 10_000, 'the stream to open');
    await hub.publish(channel, 'before the delete');
    await waitFor(() => seen.events.length === 1, 10_000, 'event 1');

    expect((await request(`${hub.url}/v1/channels/${channel}`, { method: 'DELETE', headers: { ...AUTH } })).status).toBe(204);
    await expect(within(sub.closed, 10_000, 'the subscription to end after the delete')).resolves.toEqual({ type: 'deleted' });
    expect(seen.log).toEqual(['open', `event ${channel} 1 before the delete`, 'close deleted']);
    expect(watched.sent).toHaveLength(1);

    const again = watchedFetch();
    const late = observe(hub.url, { channel, fetch: again.fetch, lastEventId: '0' });
    await expect(within(late.sub.closed, 10_000, 'the subscription to a deleted channel to end')).resolves.toEqual({ type: 'deleted' });
    expect(late.seen.log).toEqual(['close deleted']);
    expect(again.sent).toHaveLength(1);
  });

  it('a resume past what is retained (HISTORY_MAX_EVENTS=3) reaches onGap first, then the retained events', async () => {
    const channel = uniqueChannel();
    expect((await hub.publish(channel, { events: idRange(1, 6).map((n) => ({ data: `e${n}` })) })).ids).toEqual(idRange(1, 6));
    const { seen, waitFor } = observe(hub.url, { channel, lastEventId: '1' });
    await waitFor(() => seen.events.length === 3, 10_000, 'the retained events 4, 5, 6');
    expect(seen.gaps).toEqual([{ channel, lastEventId: '1', oldestId: '4', latestId: '6' }]);
    expect(seen.log).toEqual(['open', `gap ${channel} 1`, `event ${channel} 4 e4`, `event ${channel} 5 e5`, `event ${channel} 6 e6`]);
  });

  it('aborting the signal while a reconnection waits ends it: closed settles, and no request follows', async () => {
    const channel = uniqueChannel();
    const watched = watchedFetch();
    const controller = new AbortController();
    let waitMs = 0;
    const { sub, seen, waitFor } = observe(hub.url, {
      channel,
      fetch: watched.fetch,
      signal: controller.signal,
      onError: (_, info) => {
        waitMs = info.delayMs ?? 0;
        controller.abort();
      },
    });
    await waitFor(() => seen.opens === 1, 10_000, 'the stream to open');
    await hub.publish(channel, 'one');
    await waitFor(() => seen.events.length === 1, 10_000, 'event 1');

    watched.cut();
    await expect(within(sub.closed, 10_000, 'the subscription to end once aborted')).resolves.toEqual({ type: 'closed' });
    expect(seen.errors.map((e) => [e.error.message, e.info.willRetry, e.info.attempt])).toEqual([['connection cut by the test', true, 1]]);
    // RETRY_MS=500: the reconnection would have come 500–1000 ms later. Wait past that, then
    // check that it never did, and that a publish meanwhile reached nobody.
    expect(waitMs).toBeGreaterThanOrEqual(500);
    expect(waitMs).toBeLessThanOrEqual(1000);
    await hub.publish(channel, 'two');
    await sleep(waitMs + 500);
    expect(watched.sent).toHaveLength(1);
    expect(ids(seen.events)).toEqual(['1']);
    expect(seen.closes).toEqual([{ type: 'closed' }]);
  });

  it('close() while the stream is open cancels the request: the hub counts no subscriber afterwards', async () => {
    const channel = uniqueChannel();
    const { sub, seen, waitFor } = observe(hub.url, { channel });
    await waitFor(() => seen.opens === 1, 10_000, 'the stream to open');
    expect((await hub.info(channel)).subscribers).toBe(1);
    sub.close();
    await expect(within(sub.closed, 10_000, 'closed to settle')).resolves.toEqual({ type: 'closed' });
    await untilSubscribers(hub, channel, 0, 10_000, 'the hub to drop the subscriber');
  });
});

describe('subscribe(): a connection that dies without a word (idleTimeoutMs)', () => {
  it('the heartbeats (HEARTBEAT_SECONDS=1) keep a quiet stream open; once nothing gets through, it is dropped and resumed from the cursor', async () => {
    const channel = uniqueChannel();
    const watched = watchedFetch();
    const { sub, seen, waitFor } = observe(hub.url, { channel, fetch: watched.fetch, idleTimeoutMs: 3000 });
    await waitFor(() => seen.opens === 1, 10_000, 'the stream to open');
    await hub.publish(channel, 'one');
    await waitFor(() => seen.events.length === 1, 10_000, 'event 1');

    // No event for longer than the timeout: only the heartbeats arrive, and they are enough.
    await sleep(5000);
    expect(seen.errors).toEqual([]);
    expect(watched.sent).toHaveLength(1);

    watched.stall();
    await hub.publish(channel, 'two');
    await waitFor(() => seen.events.length === 2, 15_000, 'event 2, replayed on a new connection');
    expect(seen.errors.map(({ error, info }) => [error.message, info.willRetry, info.attempt])).toEqual([
      ['The connection was idle for 3000 ms: no bytes from the hub, not even a heartbeat.', true, 1],
    ]);
    expect(seen.events.map((e) => [e.id, e.data])).toEqual([
      ['1', 'one'],
      ['2', 'two'],
    ]);
    expect(watched.sent.map((h) => h['last-event-id'])).toEqual([undefined, '1']);
    expect(sub.lastEventId).toBe('2');
  });
});

describe('publish(): retried under one Idempotency-Key (docs/api.md "Idempotency")', () => {
  /** The platform's fetch, except that the first response is lost after the hub has answered it. */
  function losingFirstResponse() {
    const keys: string[] = [];
    let calls = 0;
    const fetcher: Fetch = async (url, init) => {
      keys.push(init.headers.get('Idempotency-Key') ?? '');
      calls += 1;
      const res = await fetch(url, init);
      if (calls > 1) return res;
      await res.text(); // the hub stored the events and answered; the answer is lost on the way back
      throw new TypeError('the response was lost');
    };
    return { fetch: fetcher, keys };
  }

  it('a lost response retried with the given key gets the same ids back, as a replay, and the events are stored once', async () => {
    const channel = uniqueChannel();
    const lossy = losingFirstResponse();
    const events = [{ data: 'a' }, { event: 'tick', data: { n: 1 } }];
    const first = await publish(hub.url, PUBLISH_KEY, events, { channel, idempotencyKey: 'order-42', fetch: lossy.fetch, backoff: { initialMs: 100 } });
    expect(first).toEqual({ channel, ids: ['1', '2'], subscribers: 0, replayed: true, idempotencyKey: 'order-42' });
    expect(lossy.keys).toEqual(['order-42', 'order-42']);

    const again = await publish(hub.url, PUBLISH_KEY, events, { channel, idempotencyKey: 'order-42' });
    expect(again).toEqual(first);
    expect(await hub.info(channel)).toMatchObject({ lastEventId: '2', retained: 2 });
    expect((await hub.history(channel)).events.map((e) => [e.id, e.event, e.data])).toEqual([
      ['1', 'message', 'a'],
      ['2', 'tick', '{"n":1}'],
    ]);
  });

  it('without a key, the generated one is reused by the retry, so the lost publish is stored once', async () => {
    const channel = uniqueChannel();
    const lossy = losingFirstResponse();
    const result = await publish(hub.url, PUBLISH_KEY, [{ data: 'only once' }], { channel, fetch: lossy.fetch, backoff: { initialMs: 100 } });
    expect(result).toMatchObject({ channel, ids: ['1'], replayed: true });
    expect(lossy.keys).toEqual([result.idempotencyKey, result.idempotencyKey]);
    expect(await hub.info(channel)).toMatchObject({ lastEventId: '1', retained: 1 });
  });

  it('a 4xx is thrown at once as a HeraldError (invalid_event), a bad key as unauthorized', async () => {
    const channel = uniqueChannel();
    await expect(publish(hub.url, PUBLISH_KEY, [{ event: 'gap', data: 'x' }], { channel })).rejects.toMatchObject({
      name: 'HeraldError',
      status: 400,
      code: 'invalid_event',
    });
    await expect(publish(hub.url, 'not-the-key', [{ data: 'x' }], { channel })).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect((await hub.history(channel)).events).toEqual([]);
  });
});

describe('subscribe() and publish() across a hub restart (stop, then start on the same storage and port)', () => {
  it('loses no event and duplicates none, with publishes before, during and after the restart', { timeout: 180_000 }, async () => {
    const setup = await testSetup();
    const first = await setup.start();
    const channel = uniqueChannel();
    const watched = watchedFetch();
    const { sub, seen, waitFor } = observe(first.url, { channel, fetch: watched.fetch });
    await waitFor(() => seen.opens === 1, 10_000, 'the stream to open');

    // publish() rides out the downtime itself: generous retries, short delays.
    const send = (n: number) => publish(first.url, PUBLISH_KEY, [{ data: `e${n}` }], { channel, retries: 200, backoff: { initialMs: 200, maxMs: 1000 } });
    const acked: string[] = [];
    for (const n of [1, 2, 3]) acked.push(...(await send(n)).ids);
    await waitFor(() => seen.events.length === 3, 10_000, 'events 1–3, live');

    // Reconnections wait at the gate until the end, so what follows can only come by replay.
    watched.hold();
    const during = (async () => {
      for (const n of [4, 5, 6, 7, 8]) acked.push(...(await send(n)).ids);
    })();
    await first.stop();
    await waitFor(() => seen.errors.length >= 1, 10_000, 'an error once the hub stopped');
    // Some of 4–8 may have arrived live before the stop; the cursor says which.
    const lastBeforeStop = sub.lastEventId;
    await setup.start({ port: first.port });
    await within(during, 60_000, 'publishes 4–8 to go through the restart');
    for (const n of [9, 10]) acked.push(...(await send(n)).ids);
    watched.release();

    await waitFor(() => seen.events.length === 10, 30_000, 'events 4–10, replayed after the reconnection');
    for (const n of [11, 12]) acked.push(...(await send(n)).ids);
    await waitFor(() => seen.events.length === 12, 10_000, 'events 11–12, live again');
    await sleep(300);

    expect(acked).toEqual(idRange(1, 12));
    expect(seen.events.map((e) => [e.id, e.data])).toEqual(idRange(1, 12).map((id) => [id, `e${id}`]));
    // Live only at first; every reconnection resumed from the last id received before the stop.
    expect(Number(lastBeforeStop)).toBeGreaterThanOrEqual(3);
    expect(watched.sent[0]!['last-event-id']).toBeUndefined();
    expect(watched.sent.slice(1).map((h) => h['last-event-id'])).toEqual(Array(watched.sent.length - 1).fill(lastBeforeStop));
    expect(seen.closes).toEqual([]);
  });

  it('delays grow with each failure in a row while the hub is down, from its retry:, capped; they start again after it is back', {
    timeout: 180_000,
  }, async () => {
    const setup = await testSetup({ RETRY_MS: 200 });
    const first = await setup.start();
    const { seen, waitFor } = observe(first.url, { channel: uniqueChannel(), backoff: { maxMs: 1600 } });
    await waitFor(() => seen.opens === 1, 10_000, 'the stream to open');

    await first.stop();
    // From here on nothing listens on the port: every attempt fails, one more in a row each time.
    const from = seen.errors.length;
    const opensWhileDown = seen.opens;
    await waitFor(() => seen.errors.length >= from + 5, 30_000, 'five failures in a row while the hub is down');
    const down = seen.errors.slice(from, from + 5).map((e) => e.info);
    const a = down[0]!.attempt;
    expect(down.map((i) => [i.attempt, i.willRetry])).toEqual([0, 1, 2, 3, 4].map((k) => [a + k, true]));
    for (const info of down) {
      // attempt n waits between 200·2^(n−1) and 200·2^n ms, capped at 1600.
      const low = Math.min(1600, 200 * 2 ** (info.attempt - 1));
      expect(info.delayMs, `attempt ${info.attempt}`).toBeGreaterThanOrEqual(low);
      expect(info.delayMs, `attempt ${info.attempt}`).toBeLessThanOrEqual(Math.min(1600, low * 2));
    }
    expect(down.at(-1)!.delayMs).toBe(1600);

    const second = await setup.start({ port: first.port });
    await waitFor(() => seen.opens > opensWhileDown, 30_000, 'the stream to open again on the restarted hub');
    const before = seen.errors.length;
    await second.stop();
    await waitFor(() => seen.errors.length > before, 10_000, 'an error once the hub stopped again');
    const after = seen.errors[before]!.info;
    expect(after.attempt).toBe(1);
    expect(after.delayMs).toBeGreaterThanOrEqual(200);
    expect(after.delayMs).toBeLessThanOrEqual(400);
  });
});

describe('subscribe({ channels }) against the hub (docs/api.md)', () => {
  it('gets the events of every channel with their own ids, resumes with the cursor after a cut, and ends once every channel is deleted', async () => {
    const [a, b] = [uniqueChannel(), uniqueChannel()];
    const watched = watchedFetch();
    const { sub, seen, waitFor } = observe(hub.url, { channels: [a, b], fetch: watched.fetch });
    await waitFor(() => seen.opens === 1 && sub.lastEventId === '0.0', 10_000, 'the stream to open with cursor 0.0');

    await hub.publish(a, 'a1');
    await hub.publish(b, { event: 'tick', data: { n: 1 } });
    await hub.publish(a, 'a2');
    await waitFor(() => seen.events.length === 3, 10_000, 'three events');
    expect(seen.events.map(({ channel, id, event, data, cursor }) => ({ channel, id, event, data, cursor }))).toEqual([
      { channel: a, id: '1', event: 'message', data: 'a1', cursor: '1.0' },
      { channel: b, id: '1', event: 'tick', data: '{"n":1}', cursor: '1.1' },
      { channel: a, id: '2', event: 'message', data: 'a2', cursor: '2.1' },
    ]);

    watched.hold();
    watched.cut();
    await waitFor(() => seen.errors.length === 1, 10_000, 'the cut to be reported');
    await hub.publish(b, 'b2');
    await hub.publish(a, 'a3');
    watched.release();
    await waitFor(() => seen.events.length === 5, 15_000, 'the two events published while cut off');
    // Each channel's events in order, exactly once; there is no order across channels (docs/api.md).
    const of = (channel: string) => seen.events.filter((e) => e.channel === channel).map((e) => [e.id, e.data]);
    expect(of(a)).toEqual([
      ['1', 'a1'],
      ['2', 'a2'],
      ['3', 'a3'],
    ]);
    expect(of(b)).toEqual([
      ['1', '{"n":1}'],
      ['2', 'b2'],
    ]);
    expect(sub.lastEventId).toBe('3.2');
    expect(watched.sent.slice(1).map((h) => h['last-event-id'])).toEqual(Array(watched.sent.length - 1).fill('2.1'));

    for (const channel of [a, b]) {
      expect((await request(`${hub.url}/v1/channels/${channel}`, { method: 'DELETE', headers: { ...AUTH } })).status).toBe(204);
    }
    await expect(within(sub.closed, 10_000, 'the subscription to end once both channels are deleted')).resolves.toEqual({ type: 'deleted' });
    expect(seen.errors).toHaveLength(1);
  });
});

describe('subscribe() on a full channel (docs/api.md "Busy hub", issue 8)', () => {
  // MAX_SUBSCRIBERS=1: a second subscriber finds the channel full. HEARTBEAT_SECONDS=1: the
  // place a closed subscriber held frees within a few seconds.
  it('waits, without onError, as long as the hub says (10 s), and gets in with the same lastEventId once a place frees', { timeout: 120_000 }, async () => {
    const full = await (await testSetup({ MAX_SUBSCRIBERS: 1, HEARTBEAT_SECONDS: 1 })).start();
    const channel = uniqueChannel();
    await full.publish(channel, 'before');
    const holder = observe(full.url, { channel });
    await holder.waitFor(() => holder.seen.opens === 1, 10_000, 'the first subscriber to hold the one place');
    await untilSubscribers(full, channel, 1, 10_000, 'the hub to count the first subscriber');

    const watched = watchedFetch();
    const { sub, seen, waitFor } = observe(full.url, { channel, lastEventId: '0', fetch: watched.fetch });
    await waitFor(() => seen.waits.length === 1, 10_000, "the full channel's wait");
    expect(seen.waits[0]!.reason).toBe('channel_full');
    // retry: 10000, plus up to a tenth more.
    expect(seen.waits[0]!.delayMs).toBeGreaterThanOrEqual(10_000);
    expect(seen.waits[0]!.delayMs).toBeLessThanOrEqual(11_000);
    expect(seen.log).toEqual(['wait channel_full']);

    holder.sub.close();
    await untilSubscribers(full, channel, 0, 10_000, 'the place to free');
    await full.publish(channel, 'after');
    await waitFor(() => seen.events.length === 2, 30_000, 'both events, once the waiting client got in');

    // Every wait was the hub's, and every request resumed from the same lastEventId.
    const waits = seen.waits.length;
    expect(seen.log).toEqual([...Array<string>(waits).fill('wait channel_full'), 'open', `event ${channel} 1 before`, `event ${channel} 2 after`]);
    for (const wait of seen.waits) expect(wait.delayMs).toBeGreaterThanOrEqual(10_000);
    expect(watched.sent.map((h) => h['last-event-id'])).toEqual(Array<string>(waits + 1).fill('0'));
    expect(seen.errors).toEqual([]);
    expect(sub.lastEventId).toBe('2');
    expect(holder.seen.errors).toEqual([]);
  });
});
