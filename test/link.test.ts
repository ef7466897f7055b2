// src/link.ts directly, with the test in the place of the channel object: the edge keeps
// the subscriber's cursor and uses it to drop what it already has, to re-attach when
// something was missed or the socket died, and to pass nothing on twice (issue 8).
import { describe, expect, it } from 'vitest';
import { ChannelLink, OpenSocket, attach, attachTo, type ChannelStub, type LinkHandler } from '../src/link';
import { MORE, PING, encodeMessage, type MessageKind } from '../src/protocol';
import { sleep, within } from './helpers';

const text = (s: string) => new TextEncoder().encode(s);
const frames = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `id: ${from + i}\ndata: e\n\n`).join('');

/** A channel object played by the test: each attach is answered with a fresh socket pair. */
function fakeChannel(answer: (after: string | null) => 'open' | 'deleted' = () => 'open') {
  const attaches: Array<string | null> = [];
  const servers: WebSocket[] = [];
  const received: string[] = [];
  const stub: ChannelStub = {
    async fetch(url) {
      const after = new URL(url).searchParams.get('after');
      attaches.push(after);
      if (answer(after) === 'deleted') return new Response(null, { status: 204 });
      const { 0: client, 1: server } = new WebSocketPair();
      server.accept();
      server.addEventListener('message', (e) => received.push(String(e.data)));
      servers.push(server);
      return new Response(null, { status: 101, webSocket: client, headers: { 'X-Herald-Protocol': '1', 'X-Herald-Last-Id': after ?? '0' } });
    },
  };
  const send = (kind: MessageKind, after: number, last: number, payload = frames(after + 1, last)) =>
    servers.at(-1)!.send(encodeMessage({ kind, gap: false, after, last }, [text(payload)]));
  return { stub, attaches, servers, received, send };
}

/** A link on a first socket from the fake channel, bound to a handler that records everything. */
async function linkTo(channel: ReturnType<typeof fakeChannel>, cursor: number, bind = true) {
  const res = await channel.stub.fetch(`https://channel.herald/attach?v=1&after=${cursor}`);
  const ws = res.webSocket!;
  const socket = new OpenSocket(ws);
  ws.accept();
  ws.binaryType = 'arraybuffer';
  const got: string[] = [];
  const parts: number[][] = [];
  const deleted: string[] = [];
  const handler: LinkHandler = {
    message: (m) => {
      parts.push(m.parts);
      if (m.payload.byteLength > 0) got.push(new TextDecoder().decode(m.payload));
    },
    deleted: (bytes) => deleted.push(new TextDecoder().decode(bytes)),
    wantsMore: () => true,
  };
  const link = new ChannelLink(
    attachTo(() => channel.stub),
    socket,
    cursor,
  );
  if (bind) link.bind(handler);
  const until = (done: () => boolean, what: string) =>
    within(
      (async () => {
        while (!done()) await sleep(10);
      })(),
      3000,
      what,
    );
  return { link, got, parts, deleted, handler, until };
}

describe('attach', () => {
  it("takes an older object's SSE answer, or a 101 of another version, as unavailable: the subscriber waits and comes back", async () => {
    const sse: ChannelStub = { fetch: async () => new Response('retry: 2000\n: connected\n\n', { headers: { 'Content-Type': 'text/event-stream' } }) };
    expect(await attach(sse, 3)).toEqual({ kind: 'unavailable' });
    const v2: ChannelStub = {
      async fetch() {
        const { 0: client } = new WebSocketPair();
        return new Response(null, { status: 101, webSocket: client, headers: { 'X-Herald-Protocol': '2', 'X-Herald-Last-Id': '0' } });
      },
    };
    expect(await attach(v2, null)).toEqual({ kind: 'unavailable' });
    const throws: ChannelStub = { fetch: () => Promise.reject(new Error('Durable Object is overloaded')) };
    expect(await attach(throws, null)).toEqual({ kind: 'unavailable' });
  });

  it('tells a full channel and a deleted one apart', async () => {
    const full: ChannelStub = { fetch: async () => Response.json({ error: { code: 'channel_full', message: '…' } }, { status: 503 }) };
    expect(await attach(full, null)).toEqual({ kind: 'full' });
    const deleted: ChannelStub = { fetch: async () => new Response(null, { status: 204 }) };
    expect(await attach(deleted, null)).toEqual({ kind: 'closed' });
  });

  it("takes a root's relay answer, and what a root's answers say a Worker may spread over (docs/api.md, Relays)", async () => {
    const spread = { 'X-Herald-Relays': '7', 'X-Herald-Remember': '30' };
    const relay: ChannelStub = { fetch: async () => new Response(null, { status: 307, headers: { 'X-Herald-Relay': 'weur.3', ...spread } }) };
    expect(await attach(relay, null)).toEqual({ kind: 'relay', key: 'weur.3', relays: 7, rememberMs: 30_000 });
    const direct: ChannelStub = {
      async fetch() {
        const { 0: client } = new WebSocketPair();
        return new Response(null, { status: 101, webSocket: client, headers: { 'X-Herald-Protocol': '1', 'X-Herald-Last-Id': '4', ...spread } });
      },
    };
    expect(await attach(direct, null)).toMatchObject({ kind: 'open', lastId: 4, relays: 7, rememberMs: 30_000 });
    // A made-up key is no relay answer; a count that is not a whole number counts as none.
    const forged: ChannelStub = { fetch: async () => new Response(null, { status: 307, headers: { 'X-Herald-Relay': '../x', 'X-Herald-Relays': 'many' } }) };
    expect(await attach(forged, null)).toEqual({ kind: 'unavailable' });
    const odd: ChannelStub = { fetch: async () => new Response(null, { status: 307, headers: { 'X-Herald-Relay': 'oc.0', 'X-Herald-Relays': '1.5' } }) };
    expect(await attach(odd, null)).toEqual({ kind: 'relay', key: 'oc.0', relays: 0, rememberMs: 0 });
  });
});

describe('ChannelLink', () => {
  it('passes on what continues from its cursor and moves the cursor', async () => {
    const channel = fakeChannel();
    const { link, got, until } = await linkTo(channel, 5);
    channel.send('events', 5, 6);
    channel.send('events', 6, 8);
    await until(() => got.length === 2, 'two batches');
    expect(got).toEqual([frames(6, 6), frames(7, 8)]);
    expect(link.cursor).toBe(8);
    link.dispose();
  });

  it('hands on a live message whole, with the size of each publish in it (the stream checks its reader before each)', async () => {
    const channel = fakeChannel();
    const { link, got, parts, until } = await linkTo(channel, 0);
    const publishes = [frames(1, 1), frames(2, 3), frames(4, 4)].map(text);
    channel.servers.at(-1)!.send(encodeMessage({ kind: 'events', gap: false, after: 0, last: 4 }, publishes));
    await until(() => got.length === 1, 'the message');
    expect(got).toEqual([frames(1, 1) + frames(2, 3) + frames(4, 4)]);
    expect(parts).toEqual([publishes.map((p) => p.byteLength)]);
    expect(link.cursor).toBe(4);
    link.dispose();
  });

  it('drops a message it already has, whole, without re-attaching', async () => {
    const channel = fakeChannel();
    const { link, got, until } = await linkTo(channel, 5);
    channel.send('events', 3, 5);
    channel.send('events', 5, 6);
    await until(() => got.length === 1, 'the new batch');
    await sleep(50);
    expect(got).toEqual([frames(6, 6)]);
    expect(channel.attaches).toEqual(['5']);
    link.dispose();
  });

  it('re-attaches from its cursor when events were skipped, and passes on the replay, never the skipped batch', async () => {
    const channel = fakeChannel();
    const { link, got, until } = await linkTo(channel, 5);
    channel.send('events', 7, 8); // 6 and 7 never came
    await until(() => channel.attaches.length === 2, 'the re-attach');
    expect(channel.attaches).toEqual(['5', '5']);
    channel.send('caught_up', 5, 8);
    await until(() => got.length === 1, 'the replay');
    expect(got).toEqual([frames(6, 8)]);
    expect(link.cursor).toBe(8);
    link.dispose();
  });

  it('re-attaches from its cursor when the socket closes, and on a message of another version', async () => {
    const channel = fakeChannel();
    const { link, got, until } = await linkTo(channel, 0);
    channel.send('events', 0, 1);
    await until(() => got.length === 1, 'the first batch');
    channel.servers.at(-1)!.close(1011, 'object restarting');
    await until(() => channel.attaches.length === 2, 'the re-attach after a close');
    expect(channel.attaches.at(-1)).toBe('1');
    const foreign = new Uint8Array(encodeMessage({ kind: 'events', gap: false, after: 1, last: 2 }, [text(frames(2, 2))]));
    foreign[0] = 2;
    channel.servers.at(-1)!.send(foreign);
    await until(() => channel.attaches.length === 3, 'the re-attach after a foreign message');
    expect(channel.attaches.at(-1)).toBe('1');
    expect(got).toEqual([frames(1, 1)]);
    link.dispose();
  });

  it('keeps what came before it was bound, and passes it on first, in order', async () => {
    const channel = fakeChannel();
    const { link, got, handler, until } = await linkTo(channel, 0, false);
    channel.send('events', 0, 1);
    channel.send('events', 1, 2);
    await sleep(50);
    link.bind(handler);
    channel.send('events', 2, 3);
    await until(() => got.length === 3, 'three batches');
    expect(got).toEqual([frames(1, 1), frames(2, 2), frames(3, 3)]);
    link.dispose();
  });

  it('asks for the next replay step only after a replay message, one at a time', async () => {
    const channel = fakeChannel();
    const { link, got, until } = await linkTo(channel, 0);
    link.pump();
    await sleep(30);
    expect(channel.received).toEqual([]);
    channel.send('replay', 0, 2);
    await until(() => channel.received.length === 1, 'a more');
    link.pump();
    await sleep(30);
    expect(channel.received).toEqual([MORE]);
    channel.send('caught_up', 2, 3);
    await until(() => got.length === 2, 'the last step');
    link.pump();
    await sleep(30);
    expect(channel.received).toEqual([MORE]);
    link.dispose();
  });

  it('pings a quiet link once an interval, and re-attaches when a ping goes unanswered for a whole interval', async () => {
    const channel = fakeChannel();
    const { link, until } = await linkTo(channel, 4);
    link.keepAlive(); // something was heard since the socket opened: no ping yet
    link.keepAlive(); // quiet for an interval: ping
    await until(() => channel.received.length === 1, 'a ping');
    expect(channel.received).toEqual([PING]);
    link.keepAlive(); // no answer for a whole interval: the link is dead
    await until(() => channel.attaches.length === 2, 'the re-attach');
    expect(channel.attaches).toEqual(['4', '4']);
    link.dispose();
  });

  it('tells its stream the channel was deleted when a re-attach finds it so', async () => {
    let deletedNow = false;
    const channel = fakeChannel(() => (deletedNow ? 'deleted' : 'open'));
    const { deleted, until } = await linkTo(channel, 2);
    deletedNow = true;
    channel.servers.at(-1)!.close(1011, 'gone');
    await until(() => deleted.length === 1, 'the close');
    expect(deleted).toEqual(['event: close\ndata: {"reason":"deleted"}\n\n']);
  });
});
