/**
 * docs/api.md "Auth" and CORS in a real browser: a page on another origin opens
 * `new EventSource(url, { withCredentials: true })` to a private channel, its token in the
 * `herald_token` cookie; and docs/api.md's multi-channel stream, which the browser's own
 * reconnect resumes on every channel. Debian's Chromium (/usr/bin/chromium, installed by
 * .ci/run), driven by playwright-core; nothing is downloaded.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import { sign } from 'hono/jwt';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, removeDir, startHub, tempDir, uniqueChannel, type Hub } from './hub';

const CHROMIUM = '/usr/bin/chromium';

/** What the page keeps on its window (functions given to page.evaluate run there). */
interface PageWindow {
  herald: { events: Array<{ id: string; data: string }>; errors: number; opens: number; state?: number };
  subscribe: (url: string) => void;
}
const JWT_SECRET = 'herald-dev-jwt-secret'; // .dev.vars
const present = existsSync(CHROMIUM);
if (!present && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`);
if (!present) console.warn(`skipping the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);

/** The page: subscribes with credentials and records what arrives on window.herald. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>herald test page</title>
<script>
  window.herald = { events: [], errors: 0, opens: 0 };
  window.subscribe = (url) => {
    const source = new EventSource(url, { withCredentials: true });
    source.onopen = () => herald.opens++;
    source.onerror = () => { herald.errors++; herald.state = source.readyState; };
    source.onmessage = (e) => herald.events.push({ id: e.lastEventId, data: e.data });
  };
</script>`;

describe.skipIf(!present)('a cross-origin page in Chromium', () => {
  let hub: Hub;
  let dir: string;
  let browser: Browser;
  let pages: http.Server[] = [];
  let allowedOrigin: string;
  let otherOrigin: string;

  beforeAll(async () => {
    const [allowedPort, otherPort] = await freePorts(2);
    allowedOrigin = `http://127.0.0.1:${allowedPort}`;
    otherOrigin = `http://127.0.0.1:${otherPort}`;
    pages = [allowedPort!, otherPort!].map((port) =>
      http.createServer((_, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(PAGE)).listen(port, '127.0.0.1'),
    );
    dir = await tempDir();
    hub = await startHub({ persistTo: dir, vars: { CORS_ORIGINS: allowedOrigin } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await hub?.stop();
    for (const server of pages) server.close();
    if (dir) await removeDir(dir);
  });

  /** A page on `origin`, in a fresh context, with the `herald_token` cookie set for the hub if given. */
  async function open(origin: string, token?: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext();
    // Cookies belong to a host, not a port: this one is sent to the hub (same site, other origin).
    if (token) await context.addCookies([{ name: 'herald_token', value: token, url: hub.url, sameSite: 'Lax' }]);
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    return { context, page };
  }

  const state = (page: Page) => page.evaluate(() => (globalThis as unknown as PageWindow).herald);

  it("receives a private channel's events with the cookie token", async () => {
    const channel = uniqueChannel('private-room');
    const token = await sign({ herald: { subscribe: ['private-room-*'] }, exp: Math.floor(Date.now() / 1000) + 600 }, JWT_SECRET, 'HS256');
    const { context, page } = await open(allowedOrigin, token);
    try {
      await page.evaluate((url) => (globalThis as unknown as PageWindow).subscribe(url), hub.eventsUrl(channel));
      await page.waitForFunction(() => (globalThis as unknown as PageWindow).herald.opens === 1, null, { timeout: 10_000 });
      for (const data of ['first', 'second\nline']) await hub.publish(channel, data);
      await page.waitForFunction(() => (globalThis as unknown as PageWindow).herald.events.length === 2, null, { timeout: 10_000 });
      expect(await state(page)).toMatchObject({
        events: [
          { id: '1', data: 'first' },
          { id: '2', data: 'second\nline' },
        ],
        errors: 0,
      });
    } finally {
      await context.close();
    }
  });

  it("resumes every channel of a multi-channel stream by the browser's own reconnect after the hub restarts", async () => {
    const channels = ['a', 'b', 'c'].map((c) => uniqueChannel(`multi-${c}`));
    const url = `${hub.url}/v1/events?${channels.map((c) => `channel=${c}`).join('&')}`;
    const { context, page } = await open(allowedOrigin);
    const received = async () =>
      (await state(page)).events.map((e) => ({ cursor: e.id, ...(JSON.parse(e.data) as { channel: string; id: string; data: string }) }));
    try {
      await page.evaluate((u) => (globalThis as unknown as PageWindow).subscribe(u), url);
      await page.waitForFunction(() => (globalThis as unknown as PageWindow).herald.opens === 1, null, { timeout: 10_000 });
      for (const n of [1, 2]) await Promise.all(channels.map((c) => hub.publish(c, `${c}:${n}`)));
      await page.waitForFunction(() => (globalThis as unknown as PageWindow).herald.events.length === 6, null, { timeout: 10_000 });

      // The hub goes away and comes back on the same port and storage; what is published
      // meanwhile reaches the page through Chromium's reconnect with its Last-Event-ID.
      const port = hub.port;
      await hub.stop();
      await page.waitForFunction(() => (globalThis as unknown as PageWindow).herald.errors >= 1, null, { timeout: 10_000 });
      hub = await startHub({ persistTo: dir, port, vars: { CORS_ORIGINS: allowedOrigin } });
      for (const n of [3, 4]) await Promise.all(channels.map((c) => hub.publish(c, `${c}:${n}`)));
      await page.waitForFunction(() => (globalThis as unknown as PageWindow).herald.events.length >= 12, null, { timeout: 30_000 });
      await page.waitForTimeout(500); // nothing late, nothing twice

      const events = await received();
      expect(events).toHaveLength(12);
      for (const channel of channels) {
        expect(events.filter((e) => e.channel === channel).map((e) => [e.id, e.data])).toEqual([1, 2, 3, 4].map((n) => [String(n), `${channel}:${n}`]));
      }
      expect(events.at(-1)!.cursor).toBe('4.4.4');
      expect((await state(page)).opens).toBe(2);
    } finally {
      await context.close();
    }
  });

  it.each([
    ['without the cookie, from the allowed origin', () => allowedOrigin, false],
    ['with the cookie, from an origin not in CORS_ORIGINS', () => otherOrigin, true],
  ])('gets nothing %s, and EventSource gives up', async (_, origin, withCookie) => {
    const channel = uniqueChannel('private-room');
    const token = withCookie
      ? await sign({ herald: { subscribe: ['private-room-*'] }, exp: Math.floor(Date.now() / 1000) + 600 }, JWT_SECRET, 'HS256')
      : undefined;
    const { context, page } = await open(origin(), token);
    try {
      await page.evaluate((url) => (globalThis as unknown as PageWindow).subscribe(url), hub.eventsUrl(channel));
      // A 401, or a response without a CORS grant, fails the connection for good (readyState CLOSED).
      await page.waitForFunction(() => (globalThis as unknown as PageWindow).herald.state === 2, null, { timeout: 10_000 });
      await hub.publish(channel, 'not for you');
      await page.waitForTimeout(500);
      expect(await state(page)).toMatchObject({ events: [], opens: 0 });
    } finally {
      await context.close();
    }
  });
});
