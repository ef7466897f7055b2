/**
 * API.md "Auth" and CORS in a real browser: a page on another origin opens
 * `new EventSource(url, { withCredentials: true })` to a private channel, its token in the
 * `herald_token` cookie. Debian's Chromium (/usr/bin/chromium, installed by .ci/run),
 * driven by playwright-core; nothing is downloaded.
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

  it('receives a private channel\'s events with the cookie token', async () => {
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
