/**
 * docs/api.md "Busy hub" and "Stream lifetime" (issue 8), against `wrangler dev` with real
 * clients: a full channel answers a 200 stream that says only `retry:` and ends, so the
 * `eventsource` package and Chromium's EventSource wait and come back instead of giving up;
 * a stream recycled after STREAM_MAX_SECONDS ends with `retry:` alone, and EventSource
 * resumes with Last-Event-ID, losing and repeating nothing.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { Recorder } from './clients';
import { until, uniqueChannel, sleep } from './hub';
import { gatedClient, testSetup } from './restarts';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`);

/** What the page records (functions given to page.evaluate run there). */
interface PageWindow {
  seen: { errors: number; states: number[]; data: string[] };
}

// HEARTBEAT_SECONDS=1: a client that leaves is found by the next heartbeat write, so the
// place it held frees within a few seconds.
describe('a full channel (MAX_SUBSCRIBERS=1)', () => {
  it('answers 200 with only `retry: 10000` and `: channel_full`; the eventsource client waits and gets in once a place frees', async () => {
    const hub = await (await testSetup({ MAX_SUBSCRIBERS: 1, HEARTBEAT_SECONDS: 1 })).start();
    const channel = uniqueChannel();
    await hub.publish(channel, 'before');
    const holder = new Recorder(hub.eventsUrl(channel));
    await until(async () => (await hub.info(channel)).subscribers === 1, 10_000, 'the first subscriber');

    const raw = await fetch(hub.eventsUrl(channel));
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(await raw.text()).toBe('retry: 10000\n: channel_full\n\n');

    const waiting = gatedClient(hub.eventsUrl(channel, { lastEventId: '0' }));
    await until(() => waiting.sent.length >= 1 && waiting.received().includes(': channel_full'), 10_000, 'the wait answer');
    // EventSource took the answer as "reconnect later", not as a failure.
    expect(waiting.client.source.readyState).toBe(waiting.client.source.CONNECTING);
    holder.source.close();
    await hub.publish(channel, 'after');
    // The client waits the 10 s it was told, then gets in and resumes from the beginning.
    await waiting.client.waitFor((events) => events.length === 2, 20_000, 'both events on the waiting client');
    expect(waiting.client.events.map((e) => [e.id, e.data])).toEqual([
      ['1', 'before'],
      ['2', 'after'],
    ]);
    expect(waiting.client.source.readyState).toBe(waiting.client.source.OPEN);
  }, 45_000);

  it.skipIf(!present)(
    "keeps Chromium's EventSource retrying through the wait, until a place frees",
    async () => {
      const hub = await (await testSetup({ MAX_SUBSCRIBERS: 1, HEARTBEAT_SECONDS: 1 })).start();
      const channel = uniqueChannel();
      const holder = new Recorder(hub.eventsUrl(channel));
      await until(async () => (await hub.info(channel)).subscribers === 1, 10_000, 'the first subscriber');
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
      });
      try {
        const page = await browser.newPage();
        // The hub's own console page: same origin as the stream, so no CORS is involved.
        await page.goto(`${hub.url}/`);
        await page.evaluate((url) => {
          const w = globalThis as unknown as PageWindow;
          w.seen = { errors: 0, states: [], data: [] };
          const source = new EventSource(url);
          source.onerror = () => {
            w.seen.errors++;
            w.seen.states.push(source.readyState);
          };
          source.onmessage = (e: MessageEvent) => w.seen.data.push(String(e.data));
        }, hub.eventsUrl(channel));
        const seen = () => page.evaluate(() => (globalThis as unknown as PageWindow).seen);
        await until(async () => (await seen()).errors >= 1, 10_000, 'the full channel to end the first try');
        // readyState 0 (CONNECTING) after the error: the browser will try again by itself.
        expect((await seen()).states).toEqual([0]);
        holder.source.close();
        await until(async () => (await hub.info(channel)).subscribers === 0, 10_000, 'the place to free');
        await until(async () => (await hub.info(channel)).subscribers === 1, 20_000, 'the browser to get the freed place');
        await hub.publish(channel, 'in');
        await until(async () => (await seen()).data.includes('in'), 10_000, 'the event in the browser');
        expect((await seen()).states.every((s) => s === 0)).toBe(true);
      } finally {
        await browser.close();
      }
    },
    60_000,
  );
});

describe('a client that leaves (HEARTBEAT_SECONDS=1)', () => {
  it('is found by the heartbeat writes and its socket to the object closed: the count drops within three intervals', async () => {
    const hub = await (await testSetup({ HEARTBEAT_SECONDS: 1 })).start();
    const channel = uniqueChannel();
    const controller = new AbortController();
    const res = await fetch(hub.eventsUrl(channel), { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    await until(async () => (await hub.info(channel)).subscribers === 1, 10_000, 'the subscriber');
    // The TCP connection goes away with nothing said: the hub can only find out by writing.
    controller.abort();
    await until(async () => (await hub.info(channel)).subscribers === 0, 3000 + 1000, 'the count to drop');
  }, 30_000);
});

describe('a recycled stream (STREAM_MAX_SECONDS=2)', () => {
  it('ends with `retry: 2000` alone, and EventSource resumes with Last-Event-ID, losing and repeating nothing', async () => {
    const hub = await (await testSetup({ STREAM_MAX_SECONDS: 2 })).start();
    const channel = uniqueChannel();
    const watched = gatedClient(hub.eventsUrl(channel));
    await until(() => watched.received().includes(': connected'), 10_000, 'the first opening');
    // Publish for about 7 s: across at least two recycles (each 1.8–2.2 s, then 2 s of retry).
    const sent: string[] = [];
    const started = Date.now();
    for (let i = 1; Date.now() - started < 7000 && i <= 200; i++) {
      await hub.publish(channel, `e${i}`);
      sent.push(`e${i}`);
      await sleep(100);
    }
    await watched.client.waitFor((events) => events.length === sent.length, 10_000, 'every event');
    expect(watched.client.events.map((e) => e.data)).toEqual(sent);
    expect(watched.client.events.map((e) => Number(e.id))).toEqual(sent.map((_, i) => i + 1));
    // Each recycle: the stream's last bytes are `retry: 2000` and a blank line, then a new
    // connection that says where it was.
    const resumes = watched.sent.slice(1).map((h) => h['last-event-id'] ?? h['Last-Event-ID']);
    expect(resumes.length).toBeGreaterThanOrEqual(2);
    for (const id of resumes) expect(id).toMatch(/^\d+$/);
    expect(watched.received().split('\n\nretry: 2000\n\nretry: 2000\n').length - 1).toBeGreaterThanOrEqual(2);
  }, 45_000);
});
