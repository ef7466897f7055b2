// docs/api.md "Multi-channel subscribe": GET /v1/events?channel=a&channel=b over HTTP —
// the opening cursor, merged events, exact resume of every channel, auth per channel,
// deletes, and the errors.
import { describe, expect, it } from 'vitest';
import { sign } from 'hono/jwt';
import { AUTH, Stream, errorOf, hub, parseSse, publishIds, uniqueChannel, within, sleep } from './helpers';

const JWT_SECRET = 'herald-dev-jwt-secret'; // .dev.vars
const token = (subscribe: string[]) => sign({ herald: { subscribe }, exp: Math.floor(Date.now() / 1000) + 300 }, JWT_SECRET, 'HS256');

const query = (channels: string[], extra = '') => `/v1/events?${channels.map((c) => `channel=${encodeURIComponent(c)}`).join('&')}${extra}`;

async function subscribeMany(channels: string[], init: RequestInit = {}, extra = ''): Promise<Stream> {
  const res = await hub(query(channels, extra), init);
  if (res.status !== 200) throw new Error(`subscribe answered ${res.status}: ${await res.text()}`);
  return new Stream(res);
}

/** The merged events, their data unwrapped: [cursor, channel, id, event, data]. */
function unwrap(text: string) {
  return parseSse(text).events.map((e) => {
    const { channel, id, data } = JSON.parse(e.data) as { channel: string; id: string; data: string };
    return [e.id, channel, id, e.event ?? 'message', data];
  });
}

async function subscribers(channel: string): Promise<number> {
  return ((await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()) as { subscribers: number }).subscribers;
}

describe('GET /v1/events', () => {
  it('opens with retry and the cursor of every channel, with the SSE headers', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    await publishIds(a, { events: [{ data: '1' }, { data: '2' }] });
    const stream = await subscribeMany([a, b]);
    expect(stream.response.headers.get('Content-Type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.response.headers.get('Cache-Control')).toBe('no-cache, no-transform');
    const opening = 'retry: 2000\nid: 2.0\n: connected\n\n';
    expect(await stream.until((t) => t.length >= opening.length)).toBe(opening);
    await stream.close();
  });

  it('delivers every channel live, each event wrapped with its channel and own id, the cursor as id', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    await publishIds(a, 'old');
    const stream = await subscribeMany([a, b]);
    await stream.until((t) => t.includes(': connected'));
    await publishIds(b, 'b1');
    await publishIds(a, { data: { n: 1 }, event: 'order.created' });
    await publishIds(b, 'line 1\nline 2');
    const expected =
      'retry: 2000\nid: 1.0\n: connected\n\n' +
      `id: 1.1\ndata: {"channel":"${b}","id":"1","data":"b1"}\n\n` +
      `id: 2.1\nevent: order.created\ndata: {"channel":"${a}","id":"2","data":"{\\"n\\":1}"}\n\n` +
      `id: 2.2\ndata: {"channel":"${b}","id":"2","data":"line 1\\nline 2"}\n\n`;
    expect(await stream.until((t) => t.length >= expected.length)).toBe(expected);
    await stream.close();
  });

  it('resumes every channel exactly from a cursor in Last-Event-ID: the missed events once, in order, then live', async () => {
    const [a, b, c] = [uniqueChannel('a'), uniqueChannel('b'), uniqueChannel('c')];
    await publishIds(a, { events: [1, 2, 3, 4].map((i) => ({ data: `a${i}` })) });
    await publishIds(b, { events: [1, 2].map((i) => ({ data: `b${i}` })) });
    const stream = await subscribeMany([a, b, c], { headers: { 'Last-Event-ID': '2.0.0' } });
    const events = await (async () => {
      await stream.until((t) => unwrap(t).length >= 4);
      await publishIds(c, 'c1');
      await stream.until((t) => unwrap(t).length >= 5);
      return unwrap(stream.text);
    })();
    // Per channel in id order; a before b here only because a's object answered first is
    // not promised, so compare each channel's sequence and the cursors they carry.
    const of = (ch: string) => events.filter((e) => e[1] === ch).map((e) => e.slice(2));
    expect(of(a)).toEqual([
      ['3', 'message', 'a3'],
      ['4', 'message', 'a4'],
    ]);
    expect(of(b)).toEqual([
      ['1', 'message', 'b1'],
      ['2', 'message', 'b2'],
    ]);
    expect(of(c)).toEqual([['1', 'message', 'c1']]);
    expect(events.at(-1)?.[0]).toBe('4.2.1');
    expect(stream.text.startsWith('retry: 2000\nid: 2.0.0\n: connected\n\n')).toBe(true);
    await stream.close();
  });

  it('takes lastEventId=0 as everything retained on every channel; the header wins over the query', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    await publishIds(a, 'a1');
    await publishIds(b, { events: [{ data: 'b1' }, { data: 'b2' }] });
    const all = await subscribeMany([a, b], {}, '&lastEventId=0');
    await all.until((t) => unwrap(t).length >= 3);
    expect(
      unwrap(all.text)
        .map((e) => e[4])
        .sort(),
    ).toEqual(['a1', 'b1', 'b2']);
    await all.close();
    const header = await subscribeMany([a, b], { headers: { 'Last-Event-ID': '1.1' } }, '&lastEventId=0');
    await header.until((t) => unwrap(t).length >= 1);
    await sleep(100);
    expect(unwrap(header.text)).toEqual([['1.2', b, '2', 'message', 'b2']]);
    await header.close();
  });

  it('a client that follows the cursor across reconnects gets every event of every channel once', async () => {
    const channels = [uniqueChannel('a'), uniqueChannel('b'), uniqueChannel('c')];
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let round = 0; round < 4; round++) {
      const stream = await subscribeMany(channels, cursor === undefined ? {} : { headers: { 'Last-Event-ID': cursor } });
      await stream.until((t) => t.includes(': connected'));
      await Promise.all(channels.map((ch) => publishIds(ch, `${ch}#${round}`)));
      await stream.until((t) => unwrap(t).length >= 3);
      // Published while nobody is connected: the next round must replay it.
      await stream.close();
      cursor = parseSse(stream.text).ids.at(-1);
      seen.push(...unwrap(stream.text).map((e) => `${e[1]}:${e[2]}`));
      await publishIds(channels[round % 3]!, 'between');
    }
    const last = await subscribeMany(channels, { headers: { 'Last-Event-ID': cursor! } });
    await last.until((t) => unwrap(t).length >= 1);
    seen.push(...unwrap(last.text).map((e) => `${e[1]}:${e[2]}`));
    await last.close();
    for (const ch of channels) {
      const ids = seen.filter((s) => s.startsWith(`${ch}:`)).map((s) => Number(s.split(':').at(-1)));
      const expected = channels.indexOf(ch) === 0 ? 6 : 5; // a got 'between' in rounds 0 and 3
      expect(ids).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    }
  });

  it('ten channels published to concurrently reach one subscriber, each in its own order', async () => {
    const channels = Array.from({ length: 10 }, (_, i) => uniqueChannel(`m${i}`));
    const stream = await subscribeMany(channels);
    await stream.until((t) => t.includes(': connected'));
    await Promise.all(
      channels.map(async (ch) => {
        for (let i = 0; i < 10; i++) await publishIds(ch, `${i}`);
      }),
    );
    await stream.until((t) => unwrap(t).length >= 100, 10_000, '100 events');
    const events = unwrap(stream.text);
    for (const ch of channels) {
      expect(events.filter((e) => e[1] === ch).map((e) => e[2])).toEqual(Array.from({ length: 10 }, (_, i) => String(i + 1)));
    }
    // Every cursor is the last id of every channel at that point.
    const last = new Map<string, number>();
    for (const [cursor, ch, id] of events) {
      last.set(ch!, Number(id));
      expect(cursor).toBe(channels.map((c) => last.get(c) ?? 0).join('.'));
    }
    await stream.close();
  });

  it('lets go of every channel when the client leaves', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    const stream = await subscribeMany([a, b]);
    await stream.until((t) => t.includes(': connected'));
    expect([await subscribers(a), await subscribers(b)]).toEqual([1, 1]);
    await stream.close();
    await within(
      (async () => {
        while ((await subscribers(a)) + (await subscribers(b)) > 0) await sleep(50);
      })(),
      5000,
      'both counts to return to 0',
    );
  });
});

describe('deleted channels in the set', () => {
  it('sends close for a deleted channel and goes on with the others; ends when all are closed', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    const stream = await subscribeMany([a, b]);
    await stream.until((t) => t.includes(': connected'));
    expect((await hub(`/v1/channels/${a}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    await stream.until((t) => t.includes('event: close'));
    await publishIds(b, 'still here');
    await stream.until((t) => t.includes('still here'));
    expect((await hub(`/v1/channels/${b}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    const text = await stream.end();
    expect(text).toBe(
      'retry: 2000\nid: 0.0\n: connected\n\n' +
        `event: close\ndata: {"channel":"${a}","reason":"deleted"}\n\n` +
        `id: 0.1\ndata: {"channel":"${b}","id":"1","data":"still here"}\n\n` +
        `event: close\ndata: {"channel":"${b}","reason":"deleted"}\n\n`,
    );
  });

  it('answers 204 when every channel is deleted, and opens with close for the deleted ones otherwise', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    await publishIds(a, 'x');
    await publishIds(b, 'y');
    await hub(`/v1/channels/${a}`, { method: 'DELETE', headers: AUTH });
    const some = await subscribeMany([a, b]);
    expect(await some.until((t) => t.includes('event: close'))).toBe(
      `retry: 2000\nid: 0.1\n: connected\n\nevent: close\ndata: {"channel":"${a}","reason":"deleted"}\n\n`,
    );
    await some.close();
    await hub(`/v1/channels/${b}`, { method: 'DELETE', headers: AUTH });
    const none = await hub(query([a, b]));
    expect(none.status).toBe(204);
    expect(await none.text()).toBe('');
  });
});

describe('private channels in the set', () => {
  it('needs a token covering every private channel: 401 without, 403 naming the one not covered, 200 with', async () => {
    const [pub, one, two] = [uniqueChannel('pub'), uniqueChannel('private-team-1'), uniqueChannel('private-other')];
    expect(await errorOf(await hub(query([pub, one])))).toMatchObject({ status: 401, code: 'unauthorized' });
    const partial = await token(['private-team-*']);
    const refused = await errorOf(await hub(query([pub, one, two], `&token=${partial}`)));
    expect(refused).toMatchObject({ status: 403, code: 'forbidden' });
    expect(refused.message).toContain(two);
    const both = await token(['private-team-*', 'private-other-*']);
    const stream = await subscribeMany([pub, one, two], { headers: { Cookie: `herald_token=${both}` } });
    await publishIds(two, 'secret');
    await stream.until((t) => t.includes('secret'));
    expect(unwrap(stream.text)).toEqual([['0.0.1', two, '1', 'message', 'secret']]);
    await stream.close();
  });
});

describe('bad requests', () => {
  const many = Array.from({ length: 17 }, (_, i) => `c${i}`);
  it.each([
    ['no channel', '/v1/events', {}, 400, 'invalid_channel'],
    ['17 channels', query(many), {}, 400, 'invalid_channel'],
    ['a repeated channel', query(['a', 'b', 'a']), {}, 400, 'invalid_channel'],
    ['a bad channel name', '/v1/events?channel=a&channel=b%2Fc', {}, 400, 'invalid_channel'],
    ['an empty channel name', '/v1/events?channel=a&channel=', {}, 400, 'invalid_channel'],
    ['a cursor with too few positions', query(['a', 'b']), { headers: { 'Last-Event-ID': '5' } }, 400, 'invalid_last_event_id'],
    ['a single-channel id in the query', query(['a', 'b'], '&lastEventId=7'), {}, 400, 'invalid_last_event_id'],
    ['a cursor that is not numbers', query(['a', 'b']), { headers: { 'Last-Event-ID': 'x.1' } }, 400, 'invalid_last_event_id'],
  ] as const)('answers %s with %i %s', async (_, path, init, status, code) => {
    expect(await errorOf(await hub(path, init))).toMatchObject({ status, code });
  });

  it('answers other methods with 405 and Allow: GET; HEAD with the headers only', async () => {
    const post = await hub(query(['a']), { method: 'POST', headers: AUTH, body: 'x' });
    expect(await errorOf(post)).toMatchObject({ status: 405, code: 'method_not_allowed' });
    expect(post.headers.get('Allow')).toBe('GET');
    const head = await hub(query([uniqueChannel()]), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('Content-Type')).toBe('text/event-stream; charset=utf-8');
  });
});
