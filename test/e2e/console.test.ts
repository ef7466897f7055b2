/**
 * The console (public/, issue 5) against the real Worker under `wrangler dev`: how
 * Workers static assets put it in front of the API, then the page itself in Debian's
 * Chromium (/usr/bin/chromium, installed by .ci/run), driven by playwright-core. The live
 * chart (issue 11) is read from the page's hidden table of samples, not from pixels.
 *
 * The asset routing is checked here and not in the workers project: there,
 * `exports.default.fetch` calls the Worker directly, without the assets layer in front
 * of it, so GET / answers the Worker's JSON 404.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sign } from 'hono/jwt';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { Recorder } from './clients';
import { AUTH, PUBLISH_KEY, removeDir, request, sleep, snapshotApp, startHub, tempDir, uniqueChannel, until, type Hub } from './hub';

const CHROMIUM = '/usr/bin/chromium';
const JWT_SECRET = 'herald-dev-jwt-secret'; // .dev.vars
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Screenshots for a person to look at; test-results/ is ignored by git. */
const SCREENSHOTS = join(ROOT, 'test-results');
/**
 * Where the chart test also writes its screenshot, relative to the repository, when set:
 * `HERALD_SCREENSHOT=docs/console.png` refreshes the README's. Unset, no committed file is
 * rewritten.
 */
const README_SCREENSHOT = process.env.HERALD_SCREENSHOT;
/**
 * Bound on an event published over HTTP showing in the page. It takes well under a
 * second on an idle machine; the bound is loose because the cores are shared.
 */
const SHOWN_MS = 5_000;
/** Bound on the page reaching a connection state, a restart's reconnection included (retry: 2000). */
const STATE_MS = 20_000;

const present = existsSync(CHROMIUM);
if (!present && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`);
if (!present) console.warn(`skipping the console's browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);

let hub: Hub;
let persistTo: string;
let app: string;

beforeAll(async () => {
  persistTo = await tempDir();
  app = await snapshotApp();
  hub = await startHub({ persistTo, app });
});

afterAll(async () => {
  await hub?.stop();
  await Promise.all([persistTo && removeDir(persistTo), app && removeDir(app)]);
});

describe('Workers static assets: the console in front of the API', () => {
  it('GET / answers the console as text/html with its Content-Security-Policy, and its script and stylesheet are served', async () => {
    const page = await request(`${hub.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<title>Herald console</title>');
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");

    const script = await request(`${hub.url}/console.js`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^(text|application)\/javascript/);
    const style = await request(`${hub.url}/console.css`);
    expect(style.status).toBe(200);
    expect(style.headers['content-type']).toMatch(/^text\/css/);
  });

  it('every other path reaches the Worker: API routes, JSON errors and 404s as before, and _headers is not served', async () => {
    const health = await request(`${hub.url}/healthz`);
    expect([health.status, health.text]).toEqual([200, '{"ok":true}']);

    for (const path of ['/nope', '/_headers', '/v1']) {
      const res = await request(`${hub.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toBe('application/json');
      expect(JSON.parse(res.text).error.code, path).toBe('not_found');
      // The assets' headers are for the assets only.
      expect(res.headers['content-security-policy'], path).toBeUndefined();
    }

    const channel = uniqueChannel();
    const info = await request(`${hub.url}/v1/channels/${channel}`);
    expect(info.status).toBe(401);
    expect(JSON.parse(info.text).error.code).toBe('unauthorized');
    expect((await hub.publish(channel, 'still here')).ids).toEqual(['1']);
    expect((await hub.history(channel)).events.map((e) => e.data)).toEqual(['still here']);
  });
});

/** One line of the console's log, as the page shows it. */
interface Entry {
  kind: string;
  id: string | null;
  event: string | null;
  /** The id, event name and data as displayed. */
  shownId: string;
  shownEvent: string;
  data: string;
  text: string;
}

describe.skipIf(!present)('the console in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** The console at `path` in a fresh context, closed when the test finishes; script errors fail the test. */
  async function openConsole(path = '/'): Promise<Page> {
    const context: BrowserContext = await browser.newContext();
    onTestFinished(() => context.close());
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    onTestFinished(() => expect(errors, 'errors thrown in the page').toEqual([]));
    await page.goto(`${hub.url}${path}`);
    return page;
  }

  /** The log, newest first. */
  const entries = (page: Page): Promise<Entry[]> =>
    page.locator('#log > li').evaluateAll((items) =>
      items.map((item) => ({
        kind: item.getAttribute('data-kind') ?? '',
        id: item.getAttribute('data-id'),
        event: item.getAttribute('data-event'),
        shownId: item.querySelector('.id')?.textContent ?? '',
        shownEvent: item.querySelector('.name')?.textContent ?? '',
        data: item.querySelector('.data')?.textContent ?? '',
        text: item.textContent ?? '',
      })),
    );
  const events = async (page: Page) => (await entries(page)).filter((e) => e.kind === 'event');
  const state = (page: Page) => page.locator('#state').getAttribute('data-state');

  /** Polls the page until `check` holds, for at most `ms`; the failure shows the state and the log. */
  async function waitFor(page: Page, what: string, ms: number, check: (seen: { state: string | null; log: Entry[] }) => boolean): Promise<void> {
    let seen = { state: null as string | null, log: [] as Entry[] };
    await until(
      async () => {
        seen = { state: await state(page), log: await entries(page) };
        return check(seen);
      },
      ms,
      what,
      { intervalMs: 50, describe: () => `state ${seen.state}; log ${JSON.stringify(seen.log.map((e) => e.text))}` },
    );
  }

  async function connect(page: Page, channel: string): Promise<void> {
    await page.getByLabel('Channel', { exact: true }).fill(channel);
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await waitFor(page, `the console to open ${channel}`, STATE_MS, (seen) => seen.state === 'open');
  }

  async function screenshot(page: Page, name: string): Promise<string> {
    await mkdir(SCREENSHOTS, { recursive: true });
    const path = join(SCREENSHOTS, name);
    await page.screenshot({ path, fullPage: true });
    console.log(`console screenshot: ${path}`);
    return path;
  }

  it('shows an event published over HTTP (id, name, pretty JSON), then rides out a hub restart: reconnecting, a reconnect line, and the events published meanwhile once each, in order', async () => {
    const channel = uniqueChannel();
    const page = await openConsole();
    await page.getByLabel('Named events to show').fill('greeting');
    await connect(page, channel);

    expect((await hub.publish(channel, { event: 'greeting', data: { hello: 'world', n: 1 } })).ids).toEqual(['1']);
    await waitFor(page, 'event 1 in the log', SHOWN_MS, (seen) => seen.log.some((e) => e.id === '1'));
    expect(await events(page)).toMatchObject([
      { id: '1', event: 'greeting', shownId: '1', shownEvent: 'greeting', data: JSON.stringify({ hello: 'world', n: 1 }, null, 2) },
    ]);

    // Reconnections are refused until 2 and 3 are stored, so they can only come by replay.
    const sent: Array<Promise<Record<string, string>>> = [];
    const isStream = (url: URL) => url.pathname === `/v1/channels/${channel}/events`;
    // Headers as they reached the hub: requests refused by the route below never got that far.
    page.on('response', (res) => {
      if (isStream(new URL(res.url()))) sent.push(res.request().allHeaders());
    });
    await page.route(isStream, (route) => route.abort('connectionrefused'));

    const port = hub.port;
    await hub.stop();
    await waitFor(page, 'the console to show reconnecting', STATE_MS, (seen) => seen.state === 'reconnecting');
    hub = await startHub({ persistTo, app, port });
    expect((await hub.publish(channel, 'two')).ids).toEqual(['2']);
    expect((await hub.publish(channel, { event: 'greeting', data: 'three' })).ids).toEqual(['3']);
    await page.unroute(isStream);

    await waitFor(page, 'the console to reconnect and show events 2 and 3', STATE_MS, (seen) => seen.state === 'open' && seen.log.some((e) => e.id === '3'));
    // Nothing more arrives afterwards (no late duplicate).
    await sleep(500);
    const log = await entries(page);
    expect(log.filter((e) => e.kind === 'event').map((e) => [e.id, e.event, e.data])).toEqual([
      ['3', 'greeting', 'three'],
      ['2', 'message', 'two'],
      ['1', 'greeting', JSON.stringify({ hello: 'world', n: 1 }, null, 2)],
    ]);
    // Newest first: the reconnection above the replayed events, the loss below them.
    const kinds = log.map((e) => e.kind);
    expect(kinds.slice(0, 4)).toEqual(['event', 'event', 'reconnect', 'lost']);
    expect(log[2]!.text).toContain('reconnected; the hub resumes after event 1');
    expect(log[3]!.text).toContain('connection lost; reconnecting to resume after event 1');
    // EventSource itself sent Last-Event-ID: 1 on every reconnection.
    const lastEventIds = (await Promise.all(sent)).map((headers) => headers['last-event-id']);
    expect(lastEventIds.length).toBeGreaterThan(0);
    expect(lastEventIds).toEqual(Array(lastEventIds.length).fill('1'));

    await screenshot(page, 'console-restart.png');
  });

  it('publishes from its own form (shows the 201 body and the event), its info shows the subscriber count, and the key stays out of the URL', async () => {
    const channel = uniqueChannel();
    const page = await openConsole();
    await page.getByLabel('Publish key').fill(PUBLISH_KEY);
    await connect(page, channel);

    await page.getByLabel('Event name').fill('order.created');
    await page.getByLabel('Data', { exact: true }).fill('{"id":42,"total":9.5}');
    await page.getByRole('button', { name: 'Publish', exact: true }).click();
    const result = page.locator('#publish-result[data-status="201"]');
    await result.waitFor({ timeout: SHOWN_MS });
    expect(await result.textContent()).toBe(`201\n${JSON.stringify({ channel, ids: ['1'], subscribers: 1 }, null, 2)}`);
    // The console listens to the name it published with, so its own event shows.
    await waitFor(page, 'event 1 in the log', SHOWN_MS, (seen) => seen.log.some((e) => e.id === '1'));
    expect(await events(page)).toMatchObject([{ id: '1', event: 'order.created', data: JSON.stringify({ id: 42, total: 9.5 }, null, 2) }]);

    // Info is read again after each publish: subscribers, last id, oldest, retained.
    const info = page.locator('#info dd');
    let shown: string[] = [];
    const untilShown = (expected: string, what: string) =>
      until(
        async () => {
          shown = await info.allTextContents();
          return shown.join() === expected;
        },
        SHOWN_MS,
        what,
        { describe: () => shown.join() },
      );
    await untilShown('1,1,1,1', 'info after the publish');
    await hub.publish(channel, 'from elsewhere');
    await page.getByRole('button', { name: 'Refresh' }).click();
    await untilShown('1,2,1,2', 'info after Refresh');

    expect(new URL(page.url()).hash).toBe(`#channel=${channel}`);
    expect(page.url()).not.toContain(PUBLISH_KEY);
    expect(
      await page.evaluate(() => [localStorage.getItem('herald.channel'), sessionStorage.getItem('herald.key'), localStorage.getItem('herald.key')]),
    ).toEqual([channel, PUBLISH_KEY, null]);
    await screenshot(page, 'console-publish.png');

    // A phone-sized screen: one column, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.locator('html').evaluate((html) => [html.scrollWidth, html.clientWidth])).toEqual([390, 390]);
    await screenshot(page, 'console-phone.png');
  });

  it("a link (#channel=…) opens the channel; a private one is refused with the hub's reason until a token is given, then named events seen in history are listened to; a delete closes it", async () => {
    const channel = uniqueChannel('private-room');
    expect((await hub.publish(channel, 'before', { event: 'tick' })).ids).toEqual(['1']);

    const page = await openConsole(`/#channel=${channel}`);
    await waitFor(page, 'the console to say why the stream was refused', STATE_MS, (seen) => seen.log.some((e) => e.kind === 'closed'));
    expect(await state(page)).toBe('closed');
    expect((await entries(page)).find((e) => e.kind === 'closed')!.text).toContain('401 unauthorized');

    const token = await sign({ herald: { subscribe: ['private-room-*'] }, exp: Math.floor(Date.now() / 1000) + 600 }, JWT_SECRET, 'HS256');
    await page.getByLabel(/Subscribe token/).fill(token);
    await page.getByLabel(/From the beginning/).check();
    await connect(page, channel);
    expect(await page.getByLabel('Named events to show').inputValue()).toBe('tick');
    await waitFor(page, 'the retained event 1 in the log', SHOWN_MS, (seen) => seen.log.some((e) => e.id === '1'));
    expect((await hub.publish(channel, 'after', { event: 'tick' })).ids).toEqual(['2']);
    await waitFor(page, 'event 2 in the log', SHOWN_MS, (seen) => seen.log.some((e) => e.id === '2'));
    expect((await events(page)).map((e) => [e.id, e.event, e.data])).toEqual([
      ['2', 'tick', 'after'],
      ['1', 'tick', 'before'],
    ]);
    expect(page.url()).not.toContain(token);

    // A delete ends the stream with `close`: the console says so and stops.
    expect((await request(`${hub.url}/v1/channels/${channel}`, { method: 'DELETE', headers: { ...AUTH } })).status).toBe(204);
    await waitFor(page, 'the close line', SHOWN_MS, (seen) => seen.state === 'closed' && seen.log[0]?.kind === 'close');
  });

  it('shows markup in data as text: nothing a publisher sends becomes part of the page', async () => {
    const channel = uniqueChannel();
    const page = await openConsole();
    await page.getByLabel('Named events to show').fill('x-img');
    await connect(page, channel);
    const markup = '<img src=x onerror="window.injected=1"><script>window.injected=2</script><b>bold</b>';
    expect((await hub.publish(channel, { event: 'x-img', data: markup })).ids).toEqual(['1']);
    expect((await hub.publish(channel, markup)).ids).toEqual(['2']);
    await waitFor(page, 'events 1 and 2 in the log', SHOWN_MS, (seen) => seen.log.some((e) => e.id === '2'));
    expect((await events(page)).map((e) => [e.id, e.event, e.data])).toEqual([
      ['2', 'message', markup],
      ['1', 'x-img', markup],
    ]);
    expect(await page.locator('#log img, #log script, #log b').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { injected?: number }).injected)).toBeUndefined();
  });

  it("charts the channel live: each sample's events/s matches a steady 5 events/s publish within one event, subscribers match the open streams, and the counters show what was published", async () => {
    const RATE = 5; // events/s
    const EVENTS = 60; // 12 s at RATE
    const channel = uniqueChannel();
    const page = await openConsole();
    await page.getByLabel('Publish key').fill(PUBLISH_KEY);
    await page.getByLabel('Named events to show').fill('tick');
    await connect(page, channel);
    // Two subscribers besides the console's own stream: three open streams.
    const others = [new Recorder(hub.eventsUrl(channel), ['tick']), new Recorder(hub.eventsUrl(channel), ['tick'])];
    onTestFinished(() => {
      for (const other of others) other.close();
    });
    await Promise.all(others.map((other) => other.waitOpen(SHOWN_MS)));

    /** Everything the chart shows, read in one turn of the page so that no sample lands between two reads. */
    const readChart = () =>
      page.locator('#chart').evaluate((figure) => ({
        samples: [...figure.querySelectorAll('#samples tr')].map((row) => ({
          at: Number(row.getAttribute('data-at')),
          lastId: Number(row.getAttribute('data-last-id')),
          rate: row.getAttribute('data-rate') === '' ? null : Number(row.getAttribute('data-rate')),
          subscribers: Number(row.getAttribute('data-subscribers')),
          cells: [...row.querySelectorAll('td')].map((td) => td.textContent),
        })),
        shown: Object.fromEntries(
          [...figure.querySelectorAll('[data-series]')].map((box) => [
            box.getAttribute('data-series'),
            {
              value: box.querySelector('.value')?.textContent,
              points: box.querySelector('polyline')?.getAttribute('points')?.split(' ').filter(Boolean).length ?? 0,
            },
          ]),
        ),
      }));
    let chart = await readChart();
    const seen = () => JSON.stringify(chart.samples.map(({ cells }) => cells));
    await until(
      async () => {
        chart = await readChart();
        return chart.samples.at(-1)?.subscribers === 3;
      },
      STATE_MS,
      'the chart to show 3 subscribers',
      { describe: seen },
    );

    // Publish on a fixed schedule (not "sleep after each"), noting when each was sent and acknowledged.
    const sent: number[] = [];
    const acked: number[] = [];
    const start = Date.now();
    for (let i = 0; i < EVENTS; i++) {
      await sleep(start + (i * 1000) / RATE - Date.now());
      sent.push(Date.now());
      expect((await hub.publish(channel, { event: 'tick', data: { n: i + 1 } })).ids).toEqual([String(i + 1)]);
      acked.push(Date.now());
    }
    const end = acked.at(-1)!;
    await until(
      async () => {
        chart = await readChart();
        return (chart.samples.at(-1)?.at ?? 0) > end && chart.samples.at(-1)?.lastId === EVENTS;
      },
      STATE_MS,
      'a sample after the last publish',
      { describe: seen },
    );
    for (const other of others) await other.waitForCount(EVENTS, SHOWN_MS);

    const { samples, shown } = chart;
    const during = samples.filter((s) => s.at >= start && s.at <= end);
    expect(during.length, seen()).toBeGreaterThanOrEqual(4); // 12 s at one sample every 2 s
    const count = (times: number[], at: number) => times.filter((t) => t <= at).length;
    for (const [i, s] of samples.entries()) {
      const before = samples[i - 1];
      // The page's events/s is the last ids' difference over the time between the samples…
      if (before) expect(s.rate, seen()).toBeCloseTo(((s.lastId - before.lastId) * 1000) / (s.at - before.at), 6);
      else expect(s.rate).toBeNull();
      // …and each last id is what the test had published when the answer arrived: no more
      // than was sent, and within one event of what was acknowledged.
      if (s.at >= start) {
        expect(s.lastId, seen()).toBeLessThanOrEqual(count(sent, s.at));
        expect(s.lastId, seen()).toBeGreaterThanOrEqual(count(acked, s.at) - 1);
        expect(s.subscribers, seen()).toBe(3);
      }
    }
    // Over the samples taken while publishing, the chart's mean events/s is the rate published, ±20 %.
    const first = during[0]!;
    const last = during.at(-1)!;
    const inside = samples.filter((s) => s.at > first.at && s.at <= last.at);
    const mean = inside.reduce((sum, s, k) => sum + s.rate! * (s.at - (k ? inside[k - 1]! : first).at), 0) / (last.at - first.at);
    expect(Math.abs(mean - RATE) / RATE, `mean ${mean} events/s; ${seen()}`).toBeLessThanOrEqual(0.2);

    // The figure shows the latest sample, and draws a point per sample (events/s from the second).
    const latest = samples.at(-1)!;
    expect(shown).toEqual({
      rate: { value: latest.cells[2], points: samples.length - 1 },
      subscribers: { value: '3', points: samples.length },
    });
    expect(latest.cells[2]).toBe(latest.rate! < 10 ? latest.rate!.toFixed(1) : String(Math.round(latest.rate!)));

    // The counters (issue 11's `stats`): 60 events in 60 requests, each written to the three
    // streams, which opened fresh (no resume, no gap) and kept up.
    const { stats } = await hub.info(channel);
    expect(stats).toEqual({
      published: EVENTS,
      publishRequests: EVENTS,
      idempotentReplays: 0,
      deliveries: 3 * EVENTS,
      subscribes: 3,
      resumes: 0,
      gaps: 0,
      cut: 0,
    });
    const counters = await page.locator('#stats dd').evaluateAll((dds) => dds.map((dd) => [dd.getAttribute('data-field'), dd.textContent]));
    expect(Object.fromEntries(counters)).toEqual(Object.fromEntries(Object.entries(stats).map(([field, value]) => [field, String(value)])));
    expect(await page.locator('#counters').isVisible()).toBe(true);

    // Tall enough for the log to fill the height of the forms, info and chart beside it.
    await page.setViewportSize({ width: 1280, height: 1400 });
    const path = await screenshot(page, 'console-chart.png');
    if (README_SCREENSHOT) await copyFile(path, resolve(ROOT, README_SCREENSHOT));
  });

  it('an info answer without `stats` (a hub from before issue 11) hides the counters and still charts', async () => {
    const channel = uniqueChannel();
    const page = await openConsole();
    await page.getByLabel('Publish key').fill(PUBLISH_KEY);
    const old = { channel, lastEventId: '7', oldestId: '1', retained: 7, subscribers: 1, relays: 0 };
    await page.route(
      (url) => url.pathname === `/v1/channels/${channel}`,
      (route) => route.fulfill({ json: old }),
    );
    await connect(page, channel);
    const rows = page.locator('#samples tr');
    await until(async () => (await rows.count()) >= 2, STATE_MS, 'two samples');
    expect(await page.locator('#info dd').allTextContents()).toEqual(['1', '7', '1', '7']);
    expect(await page.locator('#counters').isHidden()).toBe(true);
    expect(await page.locator('#chart [data-series] .value').allTextContents()).toEqual(['0.0', '1']);
  });
});
