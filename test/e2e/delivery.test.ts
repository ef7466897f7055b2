/**
 * Live delivery through the real Worker under `wrangler dev`, checked with clients that
 * are not Herald's: the `eventsource` package and raw `node:http` + eventsource-parser.
 * One hub serves every test here (HEARTBEAT_SECONDS=1, so heartbeats come quickly);
 * each test has its own channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Recorder, RawStream, idRange, type Received } from './clients';
import { removeDir, startHub, tempDir, untilSubscribers, uniqueChannel, type Hub, type PublishResponse } from './hub';

let hub: Hub;
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  hub = await startHub({ persistTo: dir, vars: { HEARTBEAT_SECONDS: 1 } });
});

afterAll(async () => {
  await hub?.stop();
  if (dir) await removeDir(dir);
});

/** The stream's first bytes (docs/api.md, "Retry" and "Subscribe": `retry:` and a comment). */
/** How a resuming stream opens (docs/api.md "Retry"). */
const OPENING = 'retry: 2000\n: connected\n\n';
/** How a live-only stream on a channel with no events opens: its last id, 0, comes too. */
const LIVE_OPENING = 'retry: 2000\nid: 0\n: connected\n\n';
const HEARTBEAT = ': heartbeat\n\n';

/** `text` is `expected` followed by nothing but heartbeats (HEARTBEAT_SECONDS=1 here). */
function expectExactly(text: string, expected: string): void {
  expect(text.slice(0, expected.length)).toBe(expected);
  expect(text.slice(expected.length)).toMatch(/^(: heartbeat\n\n)*$/);
}

describe('docs/api.md "Subscribe": live delivery to an EventSource', () => {
  it('a payload split by \\n, \\r\\n or \\r arrives as lines joined by \\n, with ids 1, 2, 3', async () => {
    const channel = uniqueChannel();
    const client = new Recorder(hub.eventsUrl(channel));
    try {
      await client.waitOpen(10_000);
      const acks: PublishResponse[] = [];
      for (const body of ['a\nb', 'a\r\nb', 'a\rb']) acks.push(await hub.publish(channel, body));
      expect(acks.map((a) => a.ids)).toEqual([['1'], ['2'], ['3']]);
      expect(acks.map((a) => a.subscribers)).toEqual([1, 1, 1]);

      await client.waitForCount(3, 10_000);
      expect(client.events).toEqual<Received[]>([
        { type: 'message', id: '1', data: 'a\nb' },
        { type: 'message', id: '2', data: 'a\nb' },
        { type: 'message', id: '3', data: 'a\nb' },
      ]);
    } finally {
      client.close();
    }

    // The same three events replayed (lastEventId=0: everything retained), byte for byte:
    // one data line per line of the payload, no CR on the wire.
    const raw = await RawStream.open(hub.eventsUrl(channel, { lastEventId: '0' }));
    try {
      await raw.waitForId('3', 10_000);
      expectExactly(raw.text, `${OPENING}id: 1\ndata: a\ndata: b\n\nid: 2\ndata: a\ndata: b\n\nid: 3\ndata: a\ndata: b\n\n`);
    } finally {
      raw.close();
    }
  });

  it('unicode arrives intact, ?event=tick reaches addEventListener("tick") and not onmessage, JSON data arrives compact', async () => {
    const channel = uniqueChannel();
    const client = new Recorder(hub.eventsUrl(channel), ['message', 'tick']);
    const unicode = 'héllo wörld — 日本語 🎉 \u00a0ŝ';
    try {
      await client.waitOpen(10_000);
      expect((await hub.publish(channel, unicode)).ids).toEqual(['1']);
      expect((await hub.publish(channel, 'tock', { event: 'tick' })).ids).toEqual(['2']);
      expect((await hub.publish(channel, { event: 'tick', data: { n: 1, s: 'ü' } })).ids).toEqual(['3']);

      await client.waitForCount(3, 10_000);
      expect(client.events).toEqual<Received[]>([
        { type: 'message', id: '1', data: unicode },
        { type: 'tick', id: '2', data: 'tock' },
        { type: 'tick', id: '3', data: '{"n":1,"s":"ü"}' },
      ]);
    } finally {
      client.close();
    }
  });
});

describe('docs/api.md "Heartbeat": idle streams get `: heartbeat`, dead clients are found', () => {
  it('an idle stream receives exactly `: heartbeat\\n\\n` about HEARTBEAT_SECONDS (1 s) after it opened', async () => {
    const stream = await RawStream.open(hub.eventsUrl(uniqueChannel()));
    const opened = Date.now();
    try {
      expect(stream.status).toBe(200);
      expect(stream.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(stream.response.headers['cache-control']).toBe('no-cache, no-transform');
      expect(stream.response.headers['x-accel-buffering']).toBe('no');

      await stream.waitFor((s) => s.text.includes(HEARTBEAT), 5_000, 'a heartbeat on an idle stream');
      // Not before the interval (minus the hub's 100 ms slack, and then some): loose on purpose.
      expect(Date.now() - opened).toBeGreaterThanOrEqual(500);
      expect(stream.text).toBe(LIVE_OPENING + HEARTBEAT);
      expect(stream.comments).toEqual(['connected', 'heartbeat']);
    } finally {
      stream.close();
    }
  });

  it('50 subscribers are counted by the info endpoint, and the count returns to 0 once they all leave', async () => {
    const channel = uniqueChannel();
    const streams = await Promise.all(Array.from({ length: 50 }, () => RawStream.open(hub.eventsUrl(channel))));
    try {
      expect(streams.map((s) => s.status)).toEqual(Array(50).fill(200));
      await untilSubscribers(hub, channel, 50, 10_000, '50 subscribers in the info endpoint', 100);
    } finally {
      for (const stream of streams) stream.close();
    }
    // Nothing tells the object a client left; its heartbeat writes fail and find them.
    await untilSubscribers(hub, channel, 0, 15_000, 'subscribers to return to 0 after every client left', 250);
  });
});

describe('docs/api.md "IDs": concurrent publishes', () => {
  it('200 concurrent publishes to one channel get ids exactly 1..200, and a subscriber receives 1..200 in order', async () => {
    const channel = uniqueChannel();
    const client = new Recorder(hub.eventsUrl(channel));
    try {
      await client.waitOpen(10_000);
      const url = hub.eventsUrl(channel);
      const answers = await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          const res = await fetch(url, {
            method: 'POST',
            headers: { Authorization: 'Bearer herald-dev-key', 'Content-Type': 'text/plain' },
            body: `p${i}`,
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          expect(res.status, text).toBe(201);
          const { ids } = JSON.parse(text) as PublishResponse;
          expect(ids).toHaveLength(1);
          return { id: ids[0]!, data: `p${i}` };
        }),
      );
      expect(answers.map((a) => Number(a.id)).sort((a, b) => a - b)).toEqual(idRange(1, 200).map(Number));

      await client.waitForCount(200, 20_000);
      expect(client.events.map((e) => e.id)).toEqual(idRange(1, 200));
      // Each id carries the data of the publish that was answered with it.
      const dataById = new Map(answers.map((a) => [a.id, a.data]));
      expect(client.events.map((e) => e.data)).toEqual(idRange(1, 200).map((id) => dataById.get(id)));
      expect(client.opens).toBe(1);
    } finally {
      client.close();
    }
  });
});
