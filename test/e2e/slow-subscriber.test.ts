/**
 * docs/api.md "Slow subscribers", through the real socket path of `wrangler dev`: a
 * subscriber whose unsent bytes exceed MAX_BUFFERED_BYTES is disconnected; it
 * reconnects and catches up from the log, losing nothing; one slow subscriber never
 * delays the others.
 *
 * A stalled reader only shows as unsent bytes inside the object once the socket and
 * proxy buffers in front of it are full (≈ 8.5 MB under wrangler dev, docs/platform.md), so
 * the test publishes until the hub reports the drop, with a bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Recorder, RawStream, idRange, type Received } from './clients';
import { removeDir, startHub, tempDir, uniqueChannel, type Hub } from './hub';

/** Small, so that the limit is passed soon after the buffers in front of the object fill. */
const MAX_BUFFERED_BYTES = 65_536;
/** Each event's data: under both MAX_EVENT_BYTES (65536) and MAX_BUFFERED_BYTES with its framing. */
const EVENT_BYTES = 60_000;
/** Bound on events published while waiting for the drop: 30 MB, and under HISTORY_MAX_EVENTS (1000). */
const MAX_EVENTS = 500;
/** Events published after the drop was seen, which the cut-off subscriber must catch up on. */
const AFTER_DROP = 20;

let hub: Hub;
let dir: string;

beforeAll(async () => {
  dir = await tempDir();
  hub = await startHub({ persistTo: dir, vars: { MAX_BUFFERED_BYTES } });
});

afterAll(async () => {
  await hub?.stop();
  if (dir) await removeDir(dir);
});

/** Data that says which event it is, padded to EVENT_BYTES. */
const payload = (n: number): string => `event ${n} `.padEnd(EVENT_BYTES, 'x');

describe(`docs/api.md "Slow subscribers" (MAX_BUFFERED_BYTES=${MAX_BUFFERED_BYTES})`, () => {
  it('a stalled subscriber is cut off while a reading one gets every event in order, and Last-Event-ID resumes it with nothing lost or repeated', async () => {
    const channel = uniqueChannel();
    // Reads the headers, then stops reading: the socket's window closes, bytes back up.
    const slow = await RawStream.open(hub.eventsUrl(channel), { paused: true });
    const fast = new Recorder(hub.eventsUrl(channel));
    let resumed: RawStream | undefined;
    try {
      expect(slow.status).toBe(200);
      await fast.waitOpen(10_000);
      expect((await hub.info(channel)).subscribers).toBe(2);

      // One event per publish, and the next only once the reading subscriber has this one:
      // its unsent bytes stay under the limit, so only the stalled one can pass it.
      let last = 0;
      let droppedBy: number | undefined;
      for (let n = 1; n <= MAX_EVENTS; n++) {
        const { ids } = await hub.publish(channel, payload(n));
        expect(ids).toEqual([String(n)]);
        last = n;
        await fast.waitFor((events) => events.at(-1)?.id === String(n), 10_000, `the reading subscriber to get event ${n}`);
        if (droppedBy === undefined && n % 5 === 0 && (await hub.info(channel)).subscribers === 1) droppedBy = n;
        if (droppedBy !== undefined && n >= droppedBy + AFTER_DROP) break;
      }
      expect(droppedBy, `the stalled subscriber was still counted after ${last} events of ${EVENT_BYTES} bytes`).toBeDefined();

      // The reading subscriber: every id once, in order, on its first connection.
      expect(fast.events.map((e) => e.id)).toEqual(idRange(1, last));
      expect(fast.events.every((e) => e.data === payload(Number(e.id)))).toBe(true);
      expect(fast.opens).toBe(1);
      expect(fast.errors).toBe(0);

      // The stalled one, reading again: what was buffered arrives, then the stream breaks
      // before the end (the hub dropped it), and what it got is a gapless prefix.
      slow.resume();
      await slow.ended(30_000);
      const got = Number(slow.lastId ?? 0);
      expect(got).toBeLessThan(droppedBy!);
      expect(slow.events.map((e) => e.id)).toEqual(idRange(1, got));
      expect(slow.events.every((e) => e.data === payload(Number(e.id)))).toBe(true);

      // It reconnects as EventSource would: everything after its last id, once, in order.
      resumed = await RawStream.open(hub.eventsUrl(channel), { headers: { 'Last-Event-ID': String(got) } });
      expect(resumed.status).toBe(200);
      await resumed.waitForId(String(last), 30_000);
      expect(resumed.events.map((e) => e.event ?? 'message')).toEqual(Array(last - got).fill('message'));
      expect(resumed.events.map((e) => e.id)).toEqual(idRange(got + 1, last));
      expect(resumed.events.every((e) => e.data === payload(Number(e.id)))).toBe(true);
    } finally {
      slow.close();
      fast.close();
      resumed?.close();
    }
  }, 120_000);

  it('a subscriber with an id, cut off by one publish larger than the limit, catches up from the log', async () => {
    const channel = uniqueChannel();
    const client = new Recorder(hub.eventsUrl(channel));
    try {
      await client.waitOpen(10_000);
      await hub.publish(channel, 'first');
      await client.waitForCount(1, 10_000);
      // Two 40 KB frames written at once: 80 KB unsent, over the 64 KB limit.
      const big = 'y'.repeat(40_000);
      const { ids } = await hub.publish(channel, { events: [{ data: big }, { data: big }] });
      expect(ids).toEqual(['2', '3']);
      await client.waitForCount(3, 15_000);
      expect(client.events).toEqual<Received[]>([
        { type: 'message', id: '1', data: 'first' },
        { type: 'message', id: '2', data: big },
        { type: 'message', id: '3', data: big },
      ]);
    } finally {
      client.close();
    }
  });

  // FAILS against src/ as of this writing. The two frames (80 KB) are written at once, so
  // even a client that reads at full speed is over the 64 KB limit and is cut off after
  // the opening bytes. Having no event id yet, EventSource reconnects without
  // Last-Event-ID, which docs/api.md "Resume" makes live only: ids 1 and 2 never arrive,
  // against "it reconnects and catches up from the log, losing nothing".
  it('a subscriber cut off before its first event still loses nothing (it reconnects and catches up)', async () => {
    const channel = uniqueChannel();
    const client = new Recorder(hub.eventsUrl(channel));
    try {
      await client.waitOpen(10_000);
      const big = 'z'.repeat(40_000);
      const { ids } = await hub.publish(channel, { events: [{ data: big }, { data: big }] });
      expect(ids).toEqual(['1', '2']);
      // RETRY_MS is 2 s: a reconnect and its replay fit well within 10 s.
      await client.waitForCount(2, 10_000);
      expect(client.events.map((e) => e.id)).toEqual(['1', '2']);
    } finally {
      client.close();
    }
  });
});
