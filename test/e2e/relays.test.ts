/**
 * docs/api.md "Relays" (issue 9), against `wrangler dev` with `--var RELAY_AFTER:0
 * --var RELAY_SIZE:2`: every subscriber is served by a relay, two to a relay, and the
 * `eventsource` package and Chromium's EventSource get exactly what a subscriber of the
 * channel's own object gets (docs/api.md "Subscribe": ids, order, resume), across a restart of
 * the whole hub (the channel and its relays) too.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { Recorder, idRange, type Received } from './clients';
import { sleep, uniqueChannel, until } from './hub';
import { gatedClient, testSetup } from './restarts';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`);

const RELAYS = { RELAY_AFTER: 0, RELAY_SIZE: 2 };

describe('every subscriber on a relay (RELAY_AFTER=0, RELAY_SIZE=2)', () => {
  it('delivers the same events with the same ids to eventsource clients on three relays, and to Chromium; info counts them and the relays', async () => {
    const hub = await (await testSetup(RELAYS)).start();
    const channel = uniqueChannel();
    await hub.publish(channel, 'before');
    const clients = [0, 1, 2, 3].map(() => new Recorder(hub.eventsUrl(channel, { lastEventId: '0' })));
    for (const client of clients) await client.waitForCount(1, 10_000);
    const browser = present
      ? await chromium.launch({
          executablePath: CHROMIUM,
          args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
        })
      : null;
    try {
      const page = browser ? await browser.newPage() : null;
      if (page) {
        await page.goto(`${hub.url}/`);
        await page.evaluate(
          (url) => {
            const w = globalThis as unknown as { seen: string[] };
            w.seen = [];
            const source = new EventSource(url);
            source.onmessage = (e: MessageEvent) => w.seen.push(`${e.lastEventId}:${String(e.data)}`);
          },
          hub.eventsUrl(channel, { lastEventId: '0' }),
        );
      }
      const seen = async () => (page ? await page.evaluate(() => (globalThis as unknown as { seen: string[] }).seen) : ['1:before']);
      await until(async () => (await seen()).length === 1, 10_000, 'the replay in Chromium');
      // Five subscribers, two to a relay: three relays; their counts reach the root within seconds.
      await until(
        async () => {
          const info = await hub.info(channel);
          return info.subscribers === (page ? 5 : 4) && info.relays === (page ? 3 : 2);
        },
        10_000,
        'the relays to report',
      );
      for (const n of [2, 3, 4]) expect((await hub.publish(channel, `e${n}`)).ids).toEqual([String(n)]);
      const expected: Received[] = [{ type: 'message', id: '1', data: 'before' }, ...idRange(2, 4).map((id) => ({ type: 'message', id, data: `e${id}` }))];
      for (const client of clients) {
        await client.waitForCount(4, 10_000);
        expect(client.events).toEqual(expected);
      }
      await until(async () => (await seen()).length === 4, 10_000, 'the live events in Chromium');
      if (page) expect(await seen()).toEqual(['1:before', '2:e2', '3:e3', '4:e4']);
    } finally {
      for (const client of clients) client.close();
      await browser?.close();
    }
  }, 60_000);

  it('resumes every relay-served EventSource after the hub restarts, each missed event once, in order', async () => {
    const setup = await testSetup(RELAYS);
    const first = await setup.start();
    const channel = uniqueChannel();
    const gated = [0, 1, 2].map(() => gatedClient(first.eventsUrl(channel)));
    for (const { client } of gated) await client.waitOpen(10_000);
    for (const n of [1, 2]) await first.publish(channel, `e${n}`);
    for (const { client } of gated) await client.waitForCount(2, 10_000);

    for (const { hold } of gated) hold();
    await first.stop();
    const second = await setup.start({ port: first.port });
    // Stored while every client is away: they can only come by replay, through the relays.
    for (const n of [3, 4, 5]) await second.publish(channel, `e${n}`);
    for (const { release } of gated) release();
    for (const { client } of gated) await client.waitForCount(5, 20_000);
    await second.publish(channel, 'e6');
    for (const { client, sent } of gated) {
      await client.waitForCount(6, 10_000);
      await sleep(200);
      expect(client.events).toEqual<Received[]>(idRange(1, 6).map((id) => ({ type: 'message', id, data: `e${id}` })));
      expect(sent.slice(1).map((h) => h['Last-Event-ID'])).toEqual(Array(sent.length - 1).fill('2'));
    }
    await until(async () => (await second.info(channel)).relays === 2, 10_000, 'two relays after the restart');
  }, 60_000);
});
