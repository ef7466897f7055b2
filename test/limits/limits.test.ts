// docs/api.md limits, with the small values set for this project in vitest.config.ts:
// HEARTBEAT_SECONDS=1, MAX_SUBSCRIBERS=3, HISTORY_MAX_EVENTS=5, HISTORY_MAX_AGE_SECONDS=3,
// IDEMPOTENCY_TTL_SECONDS=2, MAX_BUFFERED_BYTES=65536.
import { env } from 'cloudflare:workers';
import { createExecutionContext, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { AUTH, HUB, Stream, eventually, hub, parseSse, publish, publishIds, sleep, subscribe, uniqueChannel } from '../helpers';

const stubOf = (channel: string) => env.CHANNEL.get(env.CHANNEL.idFromName(channel));

/** A recording stand-in for the METRICS binding (docs/operations.md, "Metrics"). */
class Recorder {
  readonly points: AnalyticsEngineDataPoint[] = [];
  writeDataPoint(point?: AnalyticsEngineDataPoint): void {
    this.points.push(point!);
  }
}

/** A stream opened with METRICS bound to `metrics`: its gaps and cut are written there. */
async function streamWith(metrics: Recorder, path: string, init?: RequestInit): Promise<Stream> {
  return new Stream(await worker.fetch(new Request(`${HUB}${path}`, init), { ...env, METRICS: metrics }, createExecutionContext()));
}

const STREAM_ROUTE = 'GET /v1/channels/{channel}/events';

async function info(channel: string) {
  return (await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()) as {
    lastEventId: string | null;
    oldestId: string | null;
    retained: number;
    subscribers: number;
    stats: { gaps: number; cut: number; deliveries: number; resumes: number };
  };
}

describe('heartbeat (HEARTBEAT_SECONDS)', () => {
  it('writes ": heartbeat" to a stream that has been silent', async () => {
    const stream = await subscribe(uniqueChannel());
    const text = await stream.until((t) => t.includes(': heartbeat'), 4000, 'a heartbeat');
    expect(text).toBe('retry: 2000\nid: 0\n: connected\n\n: heartbeat\n\n');
    await stream.close();
  });

  it('finds readers that went away and removes them: the count returns to 0', async () => {
    const channel = uniqueChannel();
    const streams = await Promise.all([subscribe(channel), subscribe(channel), subscribe(channel)]);
    expect((await info(channel)).subscribers).toBe(3);
    await Promise.all(streams.map((s) => s.close()));
    await eventually(async () => (await info(channel)).subscribers === 0, 6000, 'subscribers to return to 0');
    // The heartbeat timer stops with the last subscriber; a new one is served as before.
    const again = await subscribe(channel);
    await publishIds(channel, 'x');
    expect((await again.events(1))[0]?.data).toBe('x');
    await again.close();
  });
});

describe('full channel (MAX_SUBSCRIBERS)', () => {
  it('answers a 200 stream that says only retry: 10000 and channel_full, then ends; lets in a new one when a place frees', async () => {
    // docs/api.md, "Busy hub": EventSource gives up on any status but 200, so a full channel
    // answers a stream that tells it to come back, with no id and no event.
    const channel = uniqueChannel();
    const streams = await Promise.all([subscribe(channel), subscribe(channel), subscribe(channel)]);
    const full = await hub(`/v1/channels/${channel}/events`);
    expect(full.status).toBe(200);
    expect(full.headers.get('Content-Type')).toBe('text/event-stream; charset=utf-8');
    expect(await full.text()).toBe('retry: 10000\n: channel_full\n\n');
    expect((await info(channel)).subscribers).toBe(3);
    await streams[0]!.close();
    await eventually(
      async () => {
        const res = await hub(`/v1/channels/${channel}/events`);
        const stream = new Stream(res);
        const text = await stream.until((t) => t.includes('\n\n'), 2000, 'an opening');
        await stream.close();
        return text.includes(': connected');
      },
      6000,
      'a freed place',
    );
    await Promise.all(streams.slice(1).map((s) => s.close()));
  });
});

describe('retention (HISTORY_MAX_EVENTS, HISTORY_MAX_AGE_SECONDS)', () => {
  it('keeps the last HISTORY_MAX_EVENTS events and sends a gap for what was dropped', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: Array.from({ length: 8 }, (_, i) => ({ data: `e${i + 1}` })) });
    expect(await info(channel)).toMatchObject({ lastEventId: '8', oldestId: '4', retained: 5 });
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '1' } });
    const events = await stream.events(6);
    expect(events[0]).toEqual({ id: undefined, event: 'gap', data: '{"lastEventId":"1","oldestId":"4","latestId":"8"}' });
    expect(events.slice(1).map((e) => e.id)).toEqual(['4', '5', '6', '7', '8']);
    // stats (docs/api.md "Channel info and delete"): the gap sent, and the five retained as deliveries.
    expect((await info(channel)).stats).toMatchObject({ gaps: 1, resumes: 1, deliveries: 5 });
    await stream.close();
  });

  it('writes one gap data point for the gap the stream is sent, after its subscribe point', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: Array.from({ length: 8 }, (_, i) => ({ data: `e${i + 1}` })) });
    const metrics = new Recorder();
    const stream = await streamWith(metrics, `/v1/channels/${channel}/events`, { headers: { 'Last-Event-ID': '1' } });
    expect((await stream.events(6))[0]?.event).toBe('gap');
    const [index] = metrics.points[0]?.indexes ?? [];
    expect(index).toMatch(/^[0-9a-f]{32}$/);
    expect(metrics.points).toEqual([
      { indexes: [index], blobs: ['subscribe', channel, STREAM_ROUTE, 'resume'], doubles: [1] },
      { indexes: [index], blobs: ['gap', channel, STREAM_ROUTE, ''], doubles: [1] },
    ]);
    await stream.close();
  });

  it('counts what lastEventId=0 replays as deliveries: the retained events, not every id issued', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: Array.from({ length: 8 }, (_, i) => ({ data: `e${i + 1}` })) });
    const stream = await subscribe(channel, {}, '?lastEventId=0');
    expect((await stream.events(5)).map((e) => e.id)).toEqual(['4', '5', '6', '7', '8']);
    expect((await info(channel)).stats).toMatchObject({ deliveries: 5, resumes: 1 });
    await stream.close();
  });

  it('sends no gap to a client whose next event is the oldest retained', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: Array.from({ length: 8 }, (_, i) => ({ data: `e${i + 1}` })) });
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '3' } });
    expect((await stream.events(5)).map((e) => e.id)).toEqual(['4', '5', '6', '7', '8']);
    expect((await info(channel)).stats).toMatchObject({ gaps: 0, deliveries: 5 });
    await stream.close();
  });

  it('drops events older than the maximum age: gap with oldestId null', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    await sleep(3100);
    expect(await info(channel)).toMatchObject({ lastEventId: '2', oldestId: null, retained: 0 });
    const stream = await subscribe(channel, {}, '?lastEventId=1');
    expect(await stream.events(1)).toEqual([{ id: undefined, event: 'gap', data: '{"lastEventId":"1","oldestId":null,"latestId":"2"}' }]);
    await stream.close();
  });

  it('never reuses an id once every event has aged out, also after the object restarts', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    await sleep(3100);
    expect(await info(channel)).toMatchObject({ lastEventId: '2', retained: 0 });
    await evictDurableObject(stubOf(channel));
    expect(await publishIds(channel, 'c')).toEqual(['3']);
    expect(await info(channel)).toMatchObject({ lastEventId: '3', oldestId: '3', retained: 1 });
  });

  it('takes a resume from 0 when every event has aged out as caught up: the next event comes live, once', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    await sleep(3100);
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '0' } });
    await sleep(200);
    expect(await publishIds(channel, 'c')).toEqual(['3']);
    await stream.until((t) => t.includes('data: c'), 3000, 'the live event');
    expect(parseSse(stream.text).events.map((e) => [e.id, e.data])).toEqual([['3', 'c']]);
    await stream.close();
  });

  it('sets an alarm on publish that purges expired events and keys without any request', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'a', { headers: { 'Idempotency-Key': 'k' } });
    // runInDurableObject looks at storage without going through the channel's own methods,
    // which prune on read: only the alarm can empty the tables here.
    const rows = () =>
      runInDurableObject(stubOf(channel), async (_, state) => ({
        events: state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM events').one().n,
        keys: state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM idempotency').one().n,
        alarm: (await state.storage.getAlarm()) !== null,
      }));
    expect(await rows()).toEqual({ events: 1, keys: 1, alarm: true });
    await eventually(async () => (await rows()).events === 0, 6000, 'the alarm to purge the log');
    expect(await rows()).toEqual({ events: 0, keys: 0, alarm: false });
    expect(await runDurableObjectAlarm(stubOf(channel))).toBe(false);
  });

  it('forgets an idempotency key after IDEMPOTENCY_TTL_SECONDS', async () => {
    const channel = uniqueChannel();
    const headers = { 'Idempotency-Key': 'k' };
    expect(await publishIds(channel, 'a', { headers })).toEqual(['1']);
    const replay = await publish(channel, 'a', { headers });
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');
    await sleep(2100);
    const fresh = await publish(channel, 'a', { headers });
    expect(fresh.headers.get('Idempotent-Replayed')).toBeNull();
    expect(await fresh.json()).toMatchObject({ ids: ['2'] });
  });
});

describe('slow subscribers (MAX_BUFFERED_BYTES)', () => {
  it('paces replay by the reader: a reader that pauses longer than a heartbeat is not cut and gets the whole backlog', async () => {
    const channel = uniqueChannel();
    const data = 'r'.repeat(60_000);
    // 5 × 60 kB retained: about 300 kB of replay against a 64 KiB buffer limit.
    await publishIds(channel, { events: Array.from({ length: 5 }, () => ({ data })) });
    const stream = await subscribe(channel, {}, '?lastEventId=0');
    await sleep(1500); // past a heartbeat without reading a byte (and within the 3 s age limit)
    expect((await info(channel)).subscribers).toBe(1);
    const events = await stream.events(5, 5000);
    expect(events.map((e) => [e.id, e.data.length])).toEqual([1, 2, 3, 4, 5].map((id) => [String(id), 60_000]));
    expect(stream.ended).toBe(false);
    await stream.close();
  });

  it('does not cut off a reader that keeps up when one batch is larger than the limit', async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel);
    const big = 'b'.repeat(40_000);
    // Two 40 kB events in one publish: 80 kB of frames against a 64 KiB limit.
    await publishIds(channel, { events: [{ data: big }, { data: big }] });
    expect((await stream.events(2)).map((e) => e.id)).toEqual(['1', '2']);
    await publishIds(channel, 'next');
    expect((await stream.events(3))[2]).toEqual({ id: '3', event: undefined, data: 'next' });
    expect(stream.ended).toBe(false);
    await stream.close();
  });

  it('cuts off a reader that stopped, keeps the others going, and the slow one loses nothing on resume', async () => {
    const channel = uniqueChannel();
    const slow = await subscribe(channel);
    const fast = await subscribe(channel);
    await slow.until((t) => t.includes(': connected'), 2000, 'the opening');
    const chunk = 'x'.repeat(16_000);
    let published = 0;
    // Publish until the hub drops the stalled reader; bounded in count.
    for (let round = 0; round < 200; round++) {
      const ids = await publishIds(channel, { events: Array.from({ length: 4 }, () => ({ data: chunk })) });
      published = Number(ids.at(-1));
      await fast.until((t) => t.includes(`id: ${published}\n`), 5000, `event ${published} on the fast stream`);
      if ((await info(channel)).subscribers === 1) break;
    }
    expect((await info(channel)).subscribers).toBe(1);
    expect(published).toBeLessThan(800);
    // Counted by the channel (docs/api.md "Channel info and delete": stats.cut), told by the edge's close code.
    await eventually(async () => (await info(channel)).stats.cut === 1, 3000, 'stats.cut to be 1');
    // The slow reader gets what was buffered, then the stream fails or ends.
    await slow
      .until(() => false, 5000, 'the slow stream to end')
      .catch((err: Error) => {
        if (!/ended|abort|slow|error/i.test(String(err)) && err.message.startsWith('timed out')) throw err;
      });
    const received = [...slow.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    const lastWhole = received.length === 0 ? 0 : received.at(-1)!;
    expect(lastWhole).toBeLessThan(published);
    // HISTORY_MAX_EVENTS is 5 here, so resume from the latest five: nothing retained is lost.
    const resumed = await subscribe(channel, { headers: { 'Last-Event-ID': String(published - 5) } });
    expect((await resumed.events(5)).map((e) => Number(e.id))).toEqual([1, 2, 3, 4, 5].map((i) => published - 5 + i));
    await Promise.all([fast.close(), slow.close(), resumed.close()]);
  });

  it('a cut writes one cut data point and one log line, and ends the stream rather than erroring it', async () => {
    const channel = uniqueChannel();
    const metrics = new Recorder();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const slow = await streamWith(metrics, `/v1/channels/${channel}/events`);
      await slow.until((t) => t.includes(': connected'), 2000, 'the opening');
      // Never read again: each publish of 64 kB waits unsent, and the next passes the limit.
      const chunk = 'x'.repeat(16_000);
      const isCut = () => metrics.points.some((p) => p.blobs?.[0] === 'cut');
      for (let round = 0; round < 10 && !isCut(); round++) {
        await publishIds(channel, { events: Array.from({ length: 4 }, () => ({ data: chunk })) });
        await sleep(100);
      }
      await eventually(async () => isCut(), 3000, 'the cut data point');
      const [subscribed, cut] = metrics.points;
      expect(metrics.points).toHaveLength(2);
      expect(subscribed).toMatchObject({ blobs: ['subscribe', channel, STREAM_ROUTE, 'new'], doubles: [1] });
      expect(cut).toMatchObject({ indexes: subscribed?.indexes, blobs: ['cut', channel, STREAM_ROUTE, ''] });
      const [channels = 0, unsentBytes = 0, openSeconds = -1] = cut?.doubles ?? [];
      expect([channels, unsentBytes > 65_536, openSeconds >= 0]).toEqual([1, true, true]);
      expect(warn.mock.calls.map((args) => JSON.parse(String(args[0])))).toEqual([
        { level: 'warn', event: 'subscriber_cut', route: STREAM_ROUTE, channels: [channel], unsentBytes, openSeconds },
      ]);
      // What was waiting is dropped and the stream ends cleanly: EventSource reconnects with its Last-Event-ID.
      expect(await slow.end(2000)).toBe(slow.text);
      expect(slow.ended).toBe(true);
      await eventually(async () => (await info(channel)).stats.cut === 1, 3000, 'stats.cut to be 1');
    } finally {
      warn.mockRestore();
    }
  });
});
