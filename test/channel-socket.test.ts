// The channel object's socket endpoint, with the test in the place of the edge Worker
// (issue 8): what it refuses, how it closes a socket that sends what it does not
// understand, and how far a replay runs ahead of the Worker's requests.
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { COALESCE_MS, REPLAY_STEP_BYTES } from '../src/channel';
import { MORE, attachUrl, decodeMessage, type ChannelMessage } from '../src/protocol';
import { publishIds, sleep, uniqueChannel, within } from './helpers';

const stubOf = (channel: string) => env.CHANNEL.get(env.CHANNEL.idFromName(channel));

/** A socket on the object, as the Worker opens it; every message and the close are recorded. */
async function open(channel: string, after: number | null) {
  const res = await stubOf(channel).fetch(attachUrl(after), { headers: { Upgrade: 'websocket' } });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const messages: ChannelMessage[] = [];
  let closed: { code: number; reason: string } | undefined;
  ws.addEventListener('message', (e) => {
    const decoded = decodeMessage(e.data as ArrayBuffer);
    if (!decoded.ok) throw new Error(decoded.reason);
    messages.push(decoded);
  });
  ws.addEventListener('close', (e) => (closed = { code: e.code, reason: e.reason }));
  ws.accept();
  ws.binaryType = 'arraybuffer';
  const until = (done: () => boolean, what: string) =>
    within(
      (async () => {
        while (!done()) await sleep(10);
      })(),
      3000,
      what,
    );
  return { ws, messages, closed: () => closed, until, headers: res.headers };
}

describe('the attach endpoint', () => {
  it('answers 101 with the protocol version and the last id', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    const { ws, headers } = await open(channel, null);
    expect(headers.get('X-Herald-Protocol')).toBe('1');
    expect(headers.get('X-Herald-Last-Id')).toBe('2');
    ws.close(1000);
  });

  it("answers an older Worker's SSE subscribe, or another protocol version, with a stream that says only retry", async () => {
    const channel = uniqueChannel();
    for (const [url, init] of [
      ['https://channel.herald/subscribe?after=0', {}],
      ['https://channel.herald/attach?v=2', { headers: { Upgrade: 'websocket' } }],
    ] as const) {
      const res = await stubOf(channel).fetch(url, init);
      expect(res.status).toBe(200);
      expect(res.headers.get('Content-Type')).toBe('text/event-stream; charset=utf-8');
      expect(await res.text()).toBe('retry: 1000\n: unavailable\n\n');
    }
  });

  it('refuses an after that is not an id', async () => {
    const res = await stubOf(uniqueChannel()).fetch('https://channel.herald/attach?v=1&after=-1', { headers: { Upgrade: 'websocket' } });
    expect(res.status).toBe(400);
  });

  it.each([
    ['not JSON', 'hello', 'herald: not JSON'],
    ['another version', '{"v":2,"type":"more"}', 'herald: protocol version 2, this side speaks 1'],
    ['an unknown type', '{"v":1,"type":"publish"}', 'herald: unknown message type "publish"'],
    ['binary', new Uint8Array([1, 2, 3]), 'herald: binary messages are not accepted'],
  ])('closes a socket that sends %s, with code 4400 and the reason, and stops counting it', async (_, message, reason) => {
    const channel = uniqueChannel();
    const socket = await open(channel, null);
    socket.ws.send(message);
    await socket.until(() => socket.closed() !== undefined, 'the close');
    expect(socket.closed()).toEqual({ code: 4400, reason });
    expect((await stubOf(channel).info(channel)).subscribers).toBe(0);
    // The channel itself is unharmed.
    expect(await publishIds(channel, 'still fine')).toEqual(['1']);
  });
});

describe('live messages', () => {
  it('sends a publish after a quiet spell at once, and those within COALESCE_MS after it together, one part per publish', async () => {
    const channel = uniqueChannel();
    const socket = await open(channel, null);
    // Three publishes in one turn of the object: the clock does not move between them.
    await runInDurableObject(stubOf(channel), (instance) => {
      for (const data of ['a', 'b', 'c']) instance.publish({ channel, events: [{ event: 'message', data }] });
    });
    await socket.until(() => socket.messages.length === 2, 'two messages');
    expect(socket.messages.map(({ kind, after, last, parts }) => ({ kind, after, last, parts }))).toEqual([
      { kind: 'events', after: 0, last: 1, parts: [15] },
      { kind: 'events', after: 1, last: 3, parts: [15, 15] },
    ]);
    expect(new TextDecoder().decode(socket.messages[1]!.payload)).toBe('id: 2\ndata: b\n\nid: 3\ndata: c\n\n');
    await sleep(COALESCE_MS * 3);
    expect(socket.messages.length).toBe(2);
    socket.ws.close(1000);
  });
});

describe('paced replay', () => {
  it('sends one step of at most REPLAY_STEP_BYTES per request, contiguous, then turns live', async () => {
    const channel = uniqueChannel();
    const data = 'r'.repeat(60_000);
    for (let i = 0; i < 4; i++) await publishIds(channel, { events: Array.from({ length: 5 }, () => ({ data })) });
    const socket = await open(channel, 0);
    await socket.until(() => socket.messages.length === 1, 'the first step');
    // Nothing more comes until the Worker asks.
    await sleep(200);
    expect(socket.messages.length).toBe(1);
    let asked = 1;
    while (socket.messages.at(-1)!.kind === 'replay') {
      socket.ws.send(MORE);
      asked++;
      await socket.until(() => socket.messages.length === asked, `step ${asked}`);
    }
    // 60 kB events: one per step, since two would pass 64 KiB.
    for (const m of socket.messages) expect(m.payload.byteLength).toBeLessThanOrEqual(REPLAY_STEP_BYTES);
    expect(socket.messages.map((m) => [m.after, m.last])).toEqual(Array.from({ length: 20 }, (_, i) => [i, i + 1]));
    expect(socket.messages.map((m) => m.kind)).toEqual([...Array<string>(19).fill('replay'), 'caught_up']);
    // Live from here: the next publish comes as an events message, unasked.
    await publishIds(channel, 'live');
    await socket.until(() => socket.messages.length === asked + 1, 'the live event');
    expect(socket.messages.at(-1)).toMatchObject({ kind: 'events', after: 20, last: 21 });
    expect(new TextDecoder().decode(socket.messages.at(-1)!.payload)).toBe('id: 21\ndata: live\n\n');
    socket.ws.close(1000);
  });

  it('catches a short backlog up in the answer itself: the socket is live without a request', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }, { data: 'c' }] });
    const socket = await open(channel, 1);
    await socket.until(() => socket.messages.length === 1, 'the catch-up');
    expect(socket.messages[0]).toMatchObject({ kind: 'caught_up', gap: false, after: 1, last: 3 });
    expect(new TextDecoder().decode(socket.messages[0]!.payload)).toBe('id: 2\ndata: b\n\nid: 3\ndata: c\n\n');
    socket.ws.close(1000);
  });
});
