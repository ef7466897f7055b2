// Issue 8, "Hibernating channels": the edge Worker holds each subscriber's stream, so a
// channel object with quiet subscribers can be evicted (it hibernates; its WebSockets stay
// connected) and the next publish still reaches every subscriber, once, with the right id.
// A restarted object (aborted, or evicted with its sockets closed) costs a subscriber
// nothing: the Worker re-attaches with the cursor. docs/api.md "Subscribe" (ids, resume, gap)
// and "Channel info" (subscribers) hold across both.
import { env } from 'cloudflare:workers';
import { abortAllDurableObjects, evictDurableObject, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { AUTH, Stream, hub, parseSse, publishIds, sleep, subscribe, uniqueChannel, within } from './helpers';

const stubOf = (channel: string) => env.CHANNEL.get(env.CHANNEL.idFromName(channel));

async function subscribers(channel: string): Promise<number> {
  return ((await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()) as { subscribers: number }).subscribers;
}

/** Marks the object's current instance, so a test can tell that a later one is new. */
async function mark(channel: string): Promise<void> {
  await runInDurableObject(stubOf(channel), (instance) => {
    (instance as unknown as { marked?: boolean }).marked = true;
  });
}

async function isNewInstance(channel: string): Promise<boolean> {
  return runInDurableObject(stubOf(channel), (instance) => (instance as unknown as { marked?: boolean }).marked !== true);
}

async function subscribeMany(channels: string[], init: RequestInit = {}): Promise<Stream> {
  const res = await hub(`/v1/events?${channels.map((c) => `channel=${c}`).join('&')}`, init);
  if (res.status !== 200) throw new Error(`subscribe answered ${res.status}`);
  return new Stream(res);
}

/** The data of every event on a stream (eventsource-parser), in order. */
const datas = (stream: Stream) => parseSse(stream.text).events.map((e) => e.data);

describe('eviction with quiet subscribers (hibernation)', () => {
  it('evicts every channel object while live, resuming and multi-channel subscribers stay connected; the next publish reaches each once', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    await publishIds(a, { events: [{ data: 'a1' }, { data: 'a2' }] });
    const live = await subscribe(a);
    const resuming = await subscribe(a, { headers: { 'Last-Event-ID': '1' } });
    const many = await subscribeMany([a, b]);
    await live.until((t) => t.includes(': connected'));
    await resuming.until((t) => t.includes('id: 2\n'));
    await many.until((t) => t.includes(': connected'));
    expect([await subscribers(a), await subscribers(b)]).toEqual([3, 1]);
    await mark(a);
    await mark(b);

    // Before issue 8 this timed out: "it still has active references".
    await evictDurableObject(stubOf(a));
    await evictDurableObject(stubOf(b));

    expect([await isNewInstance(a), await isNewInstance(b)]).toEqual([true, true]);
    expect([await subscribers(a), await subscribers(b)]).toEqual([3, 1]);
    expect(await publishIds(a, 'a3')).toEqual(['3']);
    expect(await publishIds(b, 'b1')).toEqual(['1']);
    expect(await live.until((t) => t.includes('id: 3\n'))).toBe('retry: 2000\nid: 2\n: connected\n\nid: 3\ndata: a3\n\n');
    expect(await resuming.until((t) => t.includes('id: 3\n'))).toBe('retry: 2000\n: connected\n\nid: 2\ndata: a2\n\nid: 3\ndata: a3\n\n');
    await many.until((t) => t.includes('"b1"'));
    expect(many.text).toBe(
      'retry: 2000\nid: 2.0\n: connected\n\n' +
        `id: 3.0\ndata: {"channel":"${a}","id":"3","data":"a3"}\n\n` +
        `id: 3.1\ndata: {"channel":"${b}","id":"1","data":"b1"}\n\n`,
    );
    // Nothing more comes: each event exactly once.
    await sleep(200);
    expect(datas(live)).toEqual(['a3']);
    expect(datas(resuming)).toEqual(['a2', 'a3']);
    await Promise.all([live.close(), resuming.close(), many.close()]);
  });

  it('delivers a batch published after eviction, every event once and in order', async () => {
    const channel = uniqueChannel();
    const streams = await Promise.all([subscribe(channel), subscribe(channel)]);
    for (const s of streams) await s.until((t) => t.includes(': connected'));
    await evictDurableObject(stubOf(channel));
    expect(await publishIds(channel, { events: [{ data: 'x' }, { event: 'tick', data: 'y' }, { data: 'z' }] })).toEqual(['1', '2', '3']);
    for (const s of streams) {
      expect(await s.until((t) => t.includes('id: 3\n'))).toBe(
        'retry: 2000\nid: 0\n: connected\n\nid: 1\ndata: x\n\nid: 2\nevent: tick\ndata: y\n\nid: 3\ndata: z\n\n',
      );
    }
    expect(await subscribers(channel)).toBe(2);
    await Promise.all(streams.map((s) => s.close()));
  });

  it('serves a subscriber that connects while the object is evicted, with the others', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'e1');
    const before = await subscribe(channel);
    await before.until((t) => t.includes(': connected'));
    await evictDurableObject(stubOf(channel));
    const resumed = await subscribe(channel, {}, '?lastEventId=0');
    await resumed.until((t) => t.includes('id: 1\n'));
    expect(await subscribers(channel)).toBe(2);
    await publishIds(channel, 'e2');
    await before.until((t) => t.includes('id: 2\n'));
    await resumed.until((t) => t.includes('id: 2\n'));
    expect(datas(before)).toEqual(['e2']);
    expect(datas(resumed)).toEqual(['e1', 'e2']);
    await Promise.all([before.close(), resumed.close()]);
  });

  it('evicts a channel whose subscriber is halfway through a paced replay, which then goes on exactly', async () => {
    const channel = uniqueChannel();
    const data = 'p'.repeat(10_000);
    await publishIds(channel, { events: Array.from({ length: 30 }, () => ({ data })) });
    const stream = await subscribe(channel, {}, '?lastEventId=0');
    // Read a little, so that the rest waits for the reader: the object holds the cursor.
    await stream.until((t) => t.includes('id: 3\n'));
    await evictDurableObject(stubOf(channel));
    await publishIds(channel, 'live');
    await stream.until((t) => t.includes('data: live'), 10_000, 'the rest of the replay, then the live event');
    expect(parseSse(stream.text).events.map((e) => Number(e.id))).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    await stream.close();
  });
});

describe('a restarted channel object costs a subscriber nothing', () => {
  it('after abortAllDurableObjects the streams stay open, re-attach with their cursor, and lose and repeat nothing', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    await publishIds(a, 'a1');
    const live = await subscribe(a);
    const many = await subscribeMany([a, b], { headers: { 'Last-Event-ID': '0.0' } });
    await live.until((t) => t.includes(': connected'));
    await many.until((t) => t.includes('"a1"'));
    await abortAllDurableObjects();
    // Published while the Worker waits its jittered re-attach (up to 1 s): replayed on return.
    expect(await publishIds(a, 'a2')).toEqual(['2']);
    expect(await publishIds(b, 'b1')).toEqual(['1']);
    await live.until((t) => t.includes('data: a2'), 5000, 'a2 after the re-attach');
    await many.until((t) => t.includes('"b1"') && t.includes('"a2"'), 5000, 'a2 and b1 after the re-attach');
    expect(await publishIds(a, 'a3')).toEqual(['3']);
    await live.until((t) => t.includes('data: a3'));
    await many.until((t) => t.includes('"a3"'));
    expect(live.ended || many.ended).toBe(false);
    expect(datas(live)).toEqual(['a2', 'a3']);
    const merged = parseSse(many.text).events.map((e) => JSON.parse(e.data) as { channel: string; id: string });
    expect(merged.filter((e) => e.channel === a).map((e) => e.id)).toEqual(['1', '2', '3']);
    expect(merged.filter((e) => e.channel === b).map((e) => e.id)).toEqual(['1']);
    expect(await subscribers(a)).toBe(2);
    await Promise.all([live.close(), many.close()]);
  });

  it('after an eviction that closes the sockets, the subscriber re-attaches and gets the next events', async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel);
    await stream.until((t) => t.includes(': connected'));
    await evictDurableObject(stubOf(channel), { webSockets: 'close' });
    await publishIds(channel, 'after');
    await stream.until((t) => t.includes('data: after'), 5000, 'the event after the re-attach');
    expect(stream.text).toBe('retry: 2000\nid: 0\n: connected\n\nid: 1\ndata: after\n\n');
    await stream.close();
  });

  it('a channel deleted while the stream was re-attaching gets close, and the stream ends', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'x');
    const stream = await subscribe(channel);
    await stream.until((t) => t.includes(': connected'));
    await abortAllDurableObjects();
    await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH });
    expect(await stream.end(5000)).toBe('retry: 2000\nid: 1\n: connected\n\nevent: close\ndata: {"reason":"deleted"}\n\n');
  });
});

describe('replay to live (docs/api.md "Resume": no gap, no duplicate)', () => {
  it('hands over after a replay of many paced steps, with publishes coming all the while, each event exactly once', async () => {
    const channel = uniqueChannel();
    const data = (i: number) => `${i}:`.padEnd(10_000, 'h');
    // About 1 MB retained: some sixteen steps of 64 KiB, each asked for by the edge.
    await publishIds(channel, { events: Array.from({ length: 100 }, (_, i) => ({ data: data(i + 1) })) });
    const stream = await subscribe(channel, {}, '?lastEventId=0');
    const publishing = (async () => {
      for (let i = 101; i <= 160; i++) await publishIds(channel, data(i));
    })();
    const [, events] = await Promise.all([publishing, stream.events(160, 15_000)]);
    expect(events.map((e) => Number(e.id))).toEqual(Array.from({ length: 160 }, (_, i) => i + 1));
    expect(events.every((e, i) => e.data === data(i + 1))).toBe(true);
    await stream.close();
  });
});

describe('disconnects', () => {
  it('closes the socket to the object when the client leaves: the count drops at once', async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel);
    expect(await subscribers(channel)).toBe(1);
    await stream.close();
    await within(
      (async () => {
        while ((await subscribers(channel)) !== 0) await sleep(20);
      })(),
      2000,
      'the count to drop',
    );
  });
});
