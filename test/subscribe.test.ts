// docs/api.md "Subscribe": headers, first bytes, live delivery, resume, gap, replay→live handover.
import { env } from 'cloudflare:workers';
import { listDurableObjectIds } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { AUTH, errorOf, hub, parseSse, publish, publishIds, subscribe, uniqueChannel } from './helpers';

/** How a resuming stream opens (docs/api.md "Retry"). */
const OPENING = 'retry: 2000\n: connected\n\n';
/** How a live-only stream opens: also the channel's last id, so a reconnect misses nothing. */
const liveOpening = (lastId: number) => `retry: 2000\nid: ${lastId}\n: connected\n\n`;

describe('GET /v1/channels/{channel}/events', () => {
  it('answers 200 with the SSE headers and writes retry and a comment at once', async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('Content-Type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.response.headers.get('Cache-Control')).toBe('no-cache, no-transform');
    expect(stream.response.headers.get('X-Accel-Buffering')).toBe('no');
    expect(await stream.until((t) => t.length >= liveOpening(0).length)).toBe(liveOpening(0));
    await stream.close();
  });

  it('delivers live events with exact bytes: names, multi-line data, unicode, JSON', async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel);
    await publishIds(channel, 'one');
    await publishIds(channel, 'a\nb\rc\r\nd', {}); // text body: line breaks of all three kinds
    await publish(channel, 'ünï ✓ 🎉', {}, '?event=greeting');
    await publishIds(channel, { data: { total: 3, items: ['x'] }, event: 'order.created' });
    const expected =
      liveOpening(0) +
      'id: 1\ndata: one\n\n' +
      'id: 2\ndata: a\ndata: b\ndata: c\ndata: d\n\n' +
      'id: 3\nevent: greeting\ndata: ünï ✓ 🎉\n\n' +
      'id: 4\nevent: order.created\ndata: {"total":3,"items":["x"]}\n\n';
    expect(await stream.until((t) => t.length >= expected.length)).toBe(expected);
    expect(parseSse(stream.text).events).toEqual([
      { id: '1', event: undefined, data: 'one' },
      { id: '2', event: undefined, data: 'a\nb\nc\nd' },
      { id: '3', event: 'greeting', data: 'ünï ✓ 🎉' },
      { id: '4', event: 'order.created', data: '{"total":3,"items":["x"]}' },
    ]);
    await stream.close();
  });

  it('is live only without a resume point: earlier events are not sent', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'before');
    const stream = await subscribe(channel);
    await publishIds(channel, 'after');
    const [event] = await stream.events(1);
    expect(event).toEqual({ id: '2', event: undefined, data: 'after' });
    expect(stream.text).toBe(`${liveOpening(1)}id: 2\ndata: after\n\n`);
    await stream.close();
  });

  it('resumes after Last-Event-ID with every later event, in order, then goes live', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: '1' }, { data: '2' }, { data: '3' }, { data: '4' }] });
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '2' } });
    await publishIds(channel, '5');
    const events = await stream.events(3);
    expect(events.map((e) => e.id)).toEqual(['3', '4', '5']);
    expect(stream.text).toBe(`${OPENING}id: 3\ndata: 3\n\nid: 4\ndata: 4\n\nid: 5\ndata: 5\n\n`);
    await stream.close();
  });

  it('takes the Last-Event-ID header over the lastEventId parameter', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }, { data: 'c' }] });
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '2' } }, '?lastEventId=0');
    expect((await stream.events(1)).map((e) => e.id)).toEqual(['3']);
    await stream.close();
    const byQuery = await subscribe(channel, {}, '?lastEventId=1');
    expect((await byQuery.events(2)).map((e) => e.id)).toEqual(['2', '3']);
    await byQuery.close();
  });

  it('sends everything retained for lastEventId=0, without a gap', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    const stream = await subscribe(channel, {}, '?lastEventId=0');
    await stream.events(2);
    expect(stream.text).toBe(`${OPENING}id: 1\ndata: a\n\nid: 2\ndata: b\n\n`);
    await stream.close();
  });

  it('sends nothing to replay, and no gap, when the client is up to date', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '2' } });
    await publishIds(channel, 'c');
    await stream.events(1);
    expect(stream.text).toBe(`${OPENING}id: 3\ndata: c\n\n`);
    await stream.close();
  });

  it('sends a gap, then all retained events, for an id larger than any issued', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '50' } });
    const events = await stream.events(3);
    expect(events[0]).toEqual({ id: undefined, event: 'gap', data: '{"lastEventId":"50","oldestId":"1","latestId":"2"}' });
    expect(events.slice(1).map((e) => e.data)).toEqual(['a', 'b']);
    await stream.close();
  });

  it('sends a gap with null ids on a channel that never had an event', async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel, {}, '?lastEventId=5');
    const [gap] = await stream.events(1);
    expect(gap).toEqual({ id: undefined, event: 'gap', data: '{"lastEventId":"5","oldestId":null,"latestId":null}' });
    await stream.close();
  });

  it('hands over from replay to live with every event exactly once while publishes keep coming', async () => {
    const channel = uniqueChannel();
    const total = 150;
    const first = Array.from({ length: 50 }, (_, i) => ({ data: `e${i + 1}` }));
    await publishIds(channel, { events: first });
    // Publish the rest one by one while the subscriber is being replayed to.
    const publishing = (async () => {
      for (let i = 51; i <= total; i++) await publishIds(channel, `e${i}`);
    })();
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '10' } });
    await publishing;
    const events = await stream.events(total - 10, 15_000);
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: total - 10 }, (_, i) => String(i + 11)));
    expect(events.map((e) => e.data)).toEqual(Array.from({ length: total - 10 }, (_, i) => `e${i + 11}`));
    await stream.close();
  });

  it('replays a backlog larger than MAX_BUFFERED_BYTES whole, paced by a slow reader, without cutting it off', async () => {
    const channel = uniqueChannel();
    const data = 'z'.repeat(4000);
    // 1000 events × 4 kB ≈ 4 MB retained, four times the default 1 MiB buffer limit.
    for (let batch = 0; batch < 10; batch++) {
      await publishIds(channel, { events: Array.from({ length: 100 }, () => ({ data })) });
    }
    const stream = await subscribe(channel, {}, '?lastEventId=0');
    let seen = 0;
    while (seen < 1000) {
      await stream.until((t) => t.length > seen * 4000 + 200_000 || t.endsWith(`id: 1000\ndata: ${data}\n\n`), 10_000, 'more replay');
      await new Promise((r) => setTimeout(r, 5));
      seen = (stream.text.match(/^id: /gm) ?? []).length;
      expect(stream.ended).toBe(false);
    }
    const ids = parseSse(stream.text).events.map((e) => Number(e.id));
    expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    await publishIds(channel, 'live');
    expect((await stream.events(1001)).at(-1)).toEqual({ id: '1001', event: undefined, data: 'live' });
    await stream.close();
    // The edge's stream reaches this reader in 4 KiB pieces, and the text checks above grow
    // with the text: most of the time is the test's own reading.
  }, 20_000);

  it('gives every subscriber of a channel the same events, and none of another channel', async () => {
    const channel = uniqueChannel();
    const other = uniqueChannel();
    const streams = await Promise.all([subscribe(channel), subscribe(channel), subscribe(channel), subscribe(other)]);
    const res = await publish(channel, 'x');
    expect(await res.json()).toEqual({ channel, ids: ['1'], subscribers: 3 });
    for (const stream of streams.slice(0, 3)) {
      expect((await stream.events(1))[0]).toEqual({ id: '1', event: undefined, data: 'x' });
    }
    await publishIds(other, 'y');
    expect((await streams[3]!.events(1))[0]).toEqual({ id: '1', event: undefined, data: 'y' });
    expect(streams[3]!.text).not.toContain('data: x');
    await Promise.all(streams.map((s) => s.close()));
  });

  it('answers HEAD without waking the channel', async () => {
    const channel = uniqueChannel();
    const res = await hub(`/v1/channels/${channel}/events`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Type')).toBe('text/event-stream; charset=utf-8');
    const id = env.CHANNEL.idFromName(channel);
    expect((await listDurableObjectIds(env.CHANNEL)).some((other) => other.equals(id))).toBe(false);
  });

  it.each([
    ['a bad Last-Event-ID', { 'Last-Event-ID': 'abc' }, '', 'invalid_last_event_id'],
    ['a negative lastEventId', {}, '?lastEventId=-1', 'invalid_last_event_id'],
    ['a fractional lastEventId', {}, '?lastEventId=1.5', 'invalid_last_event_id'],
  ])('refuses %s with 400 and a JSON error', async (_, headers, query, code) => {
    const res = await hub(`/v1/channels/${uniqueChannel()}/events${query}`, { headers });
    expect(await errorOf(res)).toMatchObject({ status: 400, code });
    expect(res.headers.get('Content-Type')).toBe('application/json');
  });

  it.each([
    ['a space', 'a%20b'],
    ['an encoded slash', 'a%2Fb'],
    ['129 characters', 'x'.repeat(129)],
    ['non-ASCII', 'caf%C3%A9'],
    ['NUL', 'a%00b'],
  ])('refuses a channel name with %s with 400 invalid_channel', async (_, name) => {
    const res = await hub(`/v1/channels/${name}/events`);
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_channel' });
    const pub = await hub(`/v1/channels/${name}/events`, { method: 'POST', headers: AUTH, body: 'x' });
    expect(await errorOf(pub)).toMatchObject({ status: 400, code: 'invalid_channel' });
  });
});

describe('JSON history (Accept: application/json)', () => {
  it('returns retained events with ids as strings, names, data and ISO times', async () => {
    const channel = uniqueChannel();
    const before = Date.now();
    await publishIds(channel, { events: [{ data: 'a' }, { data: { n: 1 }, event: 'tick' }, { data: 'c' }] });
    const res = await hub(`/v1/channels/${channel}/events?after=1&limit=1`, { headers: { Accept: 'application/json' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { events: Array<{ time: string }> };
    expect(body).toEqual({
      events: [{ id: '2', event: 'tick', data: '{"n":1}', time: expect.any(String) }],
      lastEventId: '3',
      oldestId: '1',
    });
    const time = Date.parse(body.events[0]!.time);
    expect(body.events[0]!.time).toBe(new Date(time).toISOString());
    expect(time).toBeGreaterThanOrEqual(before - 1000);
  });

  it('starts from the oldest retained event and pages with the default limit of 100', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: Array.from({ length: 100 }, (_, i) => ({ data: String(i) })) });
    await publishIds(channel, { events: [{ data: 'last' }] });
    const page = (await (await hub(`/v1/channels/${channel}/events`, { headers: { Accept: 'application/json' } })).json()) as {
      events: Array<{ id: string }>;
    };
    expect(page.events.map((e) => e.id)).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)));
    const next = (await (await hub(`/v1/channels/${channel}/events?after=100`, { headers: { Accept: 'application/json' } })).json()) as {
      events: Array<{ id: string; data: string }>;
    };
    expect(next.events.map((e) => [e.id, e.data])).toEqual([['101', 'last']]);
  });

  it('stops a page at 4 MiB of data, so a large log can still be read page by page', async () => {
    const channel = uniqueChannel();
    const data = 'h'.repeat(60_000);
    for (let i = 0; i < 8; i++) await publishIds(channel, { events: Array.from({ length: 10 }, () => ({ data })) });
    const read = async (after: number) =>
      (await (await hub(`/v1/channels/${channel}/events?after=${after}&limit=1000`, { headers: { Accept: 'application/json' } })).json()) as {
        events: Array<{ id: string }>;
      };
    const first = await read(0);
    // 69 × 60 000 characters is the most that stays under 4 MiB.
    expect(first.events.map((e) => Number(e.id))).toEqual(Array.from({ length: 69 }, (_, i) => i + 1));
    const second = await read(69);
    expect(second.events.map((e) => Number(e.id))).toEqual(Array.from({ length: 11 }, (_, i) => i + 70));
  });

  it('answers an unused channel with no events and null ids', async () => {
    const res = await hub(`/v1/channels/${uniqueChannel()}/events`, { headers: { Accept: 'application/json' } });
    expect(await res.json()).toEqual({ events: [], lastEventId: null, oldestId: null });
  });

  it('streams when Accept also names text/event-stream', async () => {
    const res = await hub(`/v1/channels/${uniqueChannel()}/events`, {
      headers: { Accept: 'application/json, text/event-stream' },
    });
    expect(res.headers.get('Content-Type')).toBe('text/event-stream; charset=utf-8');
    await res.body?.cancel();
  });

  it.each(['0', '1001', 'x'])('refuses limit=%s with 400 invalid_limit', async (limit) => {
    const res = await hub(`/v1/channels/${uniqueChannel()}/events?limit=${limit}`, { headers: { Accept: 'application/json' } });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_limit' });
  });

  it('refuses a bad after with 400 invalid_last_event_id', async () => {
    const res = await hub(`/v1/channels/${uniqueChannel()}/events?after=-3`, { headers: { Accept: 'application/json' } });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_last_event_id' });
  });
});
