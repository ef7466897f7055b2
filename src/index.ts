/**
 * Herald's Worker: the HTTP routes of docs/api.md. Each handler parses and authorises the
 * request, then forwards it to the channel's Durable Object. A subscribe is answered here,
 * at the edge: the Worker holds the stream (session.ts) and a hibernatable WebSocket to
 * each channel's object (link.ts), so the object can sleep while subscribers stay connected.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import { matchedRoutes } from 'hono/route';
import { authorize, bearerToken, subscriberToken } from './auth';
import type { EventInput, Env } from './channel';
import { ConfigError, MAX_BODY_BYTES, readConfig, type Config } from './config';
import { cors } from './cors';
import { cursorText, parseChannelSet, parseCursor } from './cursor';
import { HubError, errorResponse, type ErrorCode } from './errors';
import { parseChannel, parseEventId, parseIdempotencyKey, parseLimit, resumePoint } from './input';
import type { Right } from './jwt';
import { ChannelLink } from './link';
import { MergedFraming } from './merge';
import { Metrics, type ChannelKey } from './metrics';
import { fingerprint, parsePublishBody } from './body';
import { regionOf, type Whereabouts } from './region';
import { report, reportConfigError } from './report';
import { ChannelRoute, rootStub } from './route';
import { Session, singleChannel, type SessionWatcher } from './session';
import type { Opened } from './stats';
import { FULL_RETRY_MS, SSE_HEADERS, UNAVAILABLE_RETRY_MS, encodeMergedOpening, encodeOpening, encodeRetryOnly } from './sse';
import { channelWebhookSecret } from './webhook-secret';
import { verifyDelivery } from './webhooks';

export { Channel } from './channel';
export { Relay } from './relay';

type App = { Bindings: Env; Variables: { config: Config; metrics: Metrics } };

const app = new Hono<App>();

app.use(async (c, next) => {
  // Before the config is read: a request refused for a bad var is counted too.
  c.set('metrics', new Metrics(c.env.METRICS));
  c.set('config', readConfig(c.env));
  await next();
});
app.use(cors((c) => c.get('config').cors));

function channelOf(c: Context<App>) {
  const name = parseChannel(c.req.param('channel') ?? '');
  return { name, stub: rootStub(c.env, name) };
}

/**
 * The route a request matched, as docs/api.md writes it (`POST /v1/channels/{channel}/events`),
 * for data points and logs: the first matched route that is not a middleware for all paths.
 */
function routeOf(c: Context<App>): string {
  const path = matchedRoutes(c).find((route) => route.path !== '*' && route.path !== '/*')?.path;
  return `${c.req.method} ${path === undefined ? '(no route)' : path.replace(':channel', '{channel}')}`;
}

/** The way to a channel for this request's subscriber: its root, or a relay in its region. */
const routeTo = (c: Context<App>, name: string) => new ChannelRoute(c.env, name, regionOf(c.req.raw.cf as Whereabouts | undefined));

/**
 * Hono answers HEAD with the GET handler and drops the body: a stream's headers, without
 * opening a subscription that nobody would read.
 */
const streamHead = (c: Context<App>) => c.body(null, 200, { 'Content-Type': SSE_HEADERS['Content-Type'] });

/**
 * A subscribe that cannot be served now. EventSource gives up for good on anything but a
 * 200 event stream, so a full channel or an unavailable object answers a stream that says
 * only how long to wait, then ends: the client comes back by itself with its Last-Event-ID
 * (docs/api.md, "Busy hub"). A deleted channel's 204 is final, as docs/api.md says.
 */
function refusal(c: Context<App>, kind: 'closed' | 'full' | 'unavailable'): Response {
  if (kind === 'closed') return c.body(null, 204);
  // Jittered, so that the subscribers of an unavailable object do not all come back at once.
  const wait = kind === 'full' ? FULL_RETRY_MS : UNAVAILABLE_RETRY_MS + Math.floor(Math.random() * UNAVAILABLE_RETRY_MS);
  return new Response(encodeRetryOnly(wait, kind === 'full' ? 'channel_full' : 'unavailable'), { status: 200, headers: SSE_HEADERS });
}

/**
 * Publishers authenticate with the Authorization header only: a cookie or URL credential
 * would let any page a publisher visits publish in their name.
 */
function credentialFor(c: Context<App>, right: Right): string | undefined {
  const bearer = bearerToken(c.req.header('Authorization'));
  if (right === 'publish') return bearer;
  return subscriberToken({ bearer, query: c.req.query('token'), cookie: getCookie(c, 'herald_token') });
}

const requires =
  (right: Right) =>
  async (c: Context<App>, next: () => Promise<void>): Promise<void> => {
    const { publishKey, jwtSecret } = c.get('config');
    await authorize({ channel: parseChannel(c.req.param('channel') ?? ''), right, token: credentialFor(c, right) }, { publishKey, jwtSecret });
    await next();
  };

const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new HubError('payload_too_large', `A request body is at most ${MAX_BODY_BYTES} bytes. Split the batch.`);
  },
});

/** JSON history for clients that ask for JSON and not for an event stream (docs/api.md). */
function wantsHistory(accept: string | undefined): boolean {
  return accept?.includes('application/json') === true && !accept.includes('text/event-stream');
}

/** Stores events in the channel and answers as docs/api.md's Publish says, idempotency included. */
async function publish(c: Context<App>, events: EventInput[], key: string | undefined): Promise<Response> {
  const { name, stub } = channelOf(c);
  const idempotency = key === undefined ? undefined : { key, fingerprint: await fingerprint(events) };
  const outcome = await stub.publish({ channel: name, events, idempotency });
  const metrics = c.get('metrics');
  switch (outcome.kind) {
    case 'published':
      if (metrics.bound) {
        const { subscribers } = JSON.parse(outcome.body) as { subscribers: number };
        await metrics.record({ kind: 'publish', route: routeOf(c), outcome: 'stored', events: events.length, subscribers }, name);
      }
      return c.body(outcome.body, 201, { 'Content-Type': 'application/json' });
    case 'replayed':
      await metrics.record({ kind: 'publish', route: routeOf(c), outcome: 'replayed', events: 0, subscribers: 0 }, name);
      return c.body(outcome.body, 201, { 'Content-Type': 'application/json', 'Idempotent-Replayed': 'true' });
    case 'key_reused':
      throw new HubError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used on this channel with a different body. Use a new key for a new event.',
      );
  }
}

/**
 * Counts a stream's opening (a `subscribe` point per channel it opened on) and watches it
 * for gaps and a cut. `keys[i]` is null for a channel already deleted when it opened.
 */
function watchStream(c: Context<App>, keys: readonly (ChannelKey | null)[], opened: Opened): SessionWatcher {
  const metrics = c.get('metrics');
  const route = routeOf(c);
  const channels = keys.length;
  const since = Date.now();
  for (const key of keys) if (key) metrics.write({ kind: 'subscribe', route, opened, channels }, key);
  return {
    gap: (index) => {
      const key = keys[index];
      if (key) metrics.write({ kind: 'gap', route, channels }, key);
    },
    cut: (unsentBytes) => {
      const openSeconds = Math.round((Date.now() - since) / 1000);
      const open = keys.filter((key) => key !== null);
      for (const key of open) metrics.write({ kind: 'cut', route, channels, unsentBytes, openSeconds }, key);
      report({ event: 'subscriber_cut', route, channels: open.map((key) => key.name), unsentBytes, openSeconds });
    },
  };
}

app.get('/healthz', (c) => c.json({ ok: true }));

app.get('/v1/channels/:channel/events', requires('subscribe'), async (c) => {
  const { name, stub } = channelOf(c);
  if (wantsHistory(c.req.header('Accept'))) {
    const afterParam = c.req.query('after');
    const after = afterParam === undefined ? 0 : parseEventId(afterParam, 'after');
    return c.json(await stub.history(after, parseLimit(c.req.query('limit'))));
  }
  // EventSource sends no Last-Event-ID while it has none; an empty one means the same.
  const header = c.req.header('Last-Event-ID') || undefined;
  const from = resumePoint(header, c.req.query('lastEventId'));
  if (c.req.method === 'HEAD') return streamHead(c);
  const config = c.get('config');
  const route = routeTo(c, name);
  const keys = await c.get('metrics').keys([name]);
  const opened = await route.attach(from, from === null ? 'new' : 'resume');
  if (opened.kind !== 'open') return refusal(c, opened.kind);
  const link = new ChannelLink((after) => route.attach(after), opened.socket, from ?? opened.lastId);
  const watcher = watchStream(c, keys, from === null ? 'new' : 'resume');
  const session = new Session([link], singleChannel, encodeOpening(config.retryMs, from === null ? opened.lastId : null), config, watcher);
  return new Response(session.stream, { status: 200, headers: SSE_HEADERS });
});

/** Several channels in one stream (docs/api.md, "Multi-channel subscribe"): one socket per channel. */
app.get('/v1/events', async (c) => {
  const channels = parseChannelSet(c.req.queries('channel') ?? []);
  const config = c.get('config');
  const { publishKey, jwtSecret } = config;
  const token = credentialFor(c, 'subscribe');
  for (const channel of channels) await authorize({ channel, right: 'subscribe', token }, { publishKey, jwtSecret });
  const cursor = parseCursor(c.req.header('Last-Event-ID') || undefined, c.req.query('lastEventId'), channels.length);
  if (c.req.method === 'HEAD') return streamHead(c);
  const routes = channels.map((name) => routeTo(c, name));
  const keys = await c.get('metrics').keys(channels);
  const opened = await Promise.all(routes.map((route, i) => route.attach(cursor?.[i] ?? null, cursor ? 'resume' : 'new')));
  // One channel full or unavailable refuses the whole set; the sockets already opened are let go.
  const refused = opened.find((o) => o.kind === 'full') ?? opened.find((o) => o.kind === 'unavailable');
  if (refused !== undefined) {
    for (const o of opened) if (o.kind === 'open') o.socket.close('herald: subscribe refused');
    return refusal(c, refused.kind);
  }
  if (opened.every((o) => o.kind === 'closed')) return c.body(null, 204);
  const positions = opened.map((o, i) => cursor?.[i] ?? (o.kind === 'open' ? o.lastId : 0));
  const links = opened.map((o, i) => (o.kind === 'open' ? new ChannelLink((after) => routes[i]!.attach(after), o.socket, positions[i]!) : null));
  const deleted = channels.filter((_, i) => links[i] === null);
  const framing = new MergedFraming(channels, positions, channels.length - deleted.length);
  const watcher = watchStream(
    c,
    keys.map((key, i) => (links[i] ? key : null)),
    cursor ? 'resume' : 'new',
  );
  const session = new Session(links, framing, encodeMergedOpening(config.retryMs, cursorText(positions), deleted), config, watcher);
  return new Response(session.stream, { status: 200, headers: SSE_HEADERS });
});

app.post('/v1/channels/:channel/events', requires('publish'), limitBody, async (c) => {
  const key = parseIdempotencyKey(c.req.header('Idempotency-Key'));
  const events = parsePublishBody({
    body: new Uint8Array(await c.req.arrayBuffer()),
    contentType: c.req.header('Content-Type'),
    eventParam: c.req.query('event'),
    maxEventBytes: c.get('config').maxEventBytes,
  });
  return publish(c, events, key);
});

app.post('/v1/hooks/:channel', limitBody, async (c) => {
  const channel = parseChannel(c.req.param('channel'));
  const secret = c.get('config').webhookSecret;
  if (secret === undefined) {
    throw new HubError('auth_not_configured', 'This hub has no WEBHOOK_SECRET, so it accepts no webhook. Set it with `wrangler secret put WEBHOOK_SECRET`.');
  }
  const body = new Uint8Array(await c.req.arrayBuffer());
  // The channel's own secret: a delivery signed for one channel verifies on no other.
  const delivery = await verifyDelivery(c.req.raw.headers, body, await channelWebhookSecret(secret, channel), Math.floor(Date.now() / 1000));
  // The raw body is the data, whatever its type; ?event= overrides the provider's name.
  const events = parsePublishBody({
    body,
    contentType: undefined,
    eventParam: c.req.query('event') ?? delivery.event,
    maxEventBytes: c.get('config').maxEventBytes,
  });
  // The provider's delivery id makes its retries idempotent.
  return publish(c, events, parseIdempotencyKey(delivery.idempotencyKey));
});

app.get('/v1/channels/:channel', requires('publish'), async (c) => {
  const { name, stub } = channelOf(c);
  return c.json(await stub.info(name));
});

app.delete('/v1/channels/:channel', requires('publish'), async (c) => {
  const { name, stub } = channelOf(c);
  await stub.remove();
  report({ event: 'channel_deleted', channel: name });
  return c.body(null, 204);
});

const ALLOWED: Record<string, string> = {
  '/v1/channels/:channel/events': 'GET, POST',
  '/v1/events': 'GET',
  '/v1/channels/:channel': 'GET, DELETE',
  '/v1/hooks/:channel': 'POST',
  '/healthz': 'GET',
};
for (const [path, allow] of Object.entries(ALLOWED)) {
  app.all(path, () => {
    throw new HubError('method_not_allowed', `This path takes ${allow}.`, { Allow: allow });
  });
}

// A path under a channel route that matched none of them has a name with '/' in it, or none.
for (const prefix of ['/v1/channels/*', '/v1/hooks/*']) {
  app.all(prefix, () => {
    throw new HubError('invalid_channel', 'A channel name is 1–128 characters from A–Z a–z 0–9 _ - . : ~ @ (no "/").');
  });
}

/** The error answer to `err`, and its code. */
function answerTo(err: Error): { code: ErrorCode; response: Response } {
  if (err instanceof HubError) return { code: err.code, response: err.toResponse() };
  if (err instanceof ConfigError) return { code: 'invalid_config', response: errorResponse('invalid_config', err.message) };
  // Durable Object errors say whether a retry can succeed (e.g. an overloaded object).
  if ((err as { retryable?: boolean }).retryable === true) {
    return { code: 'unavailable', response: errorResponse('unavailable', 'The channel is busy or restarting. Retry shortly.', { 'Retry-After': '1' }) };
  }
  return { code: 'internal_error', response: errorResponse('internal_error', 'The hub failed to handle this request. Retry; if it persists, report it.') };
}

/** The channel a request names, if the name is valid: a bad one goes into no data point or log. */
function namedChannel(c: Context<App>): string | null {
  try {
    return parseChannel(c.req.param('channel') ?? '');
  } catch {
    return null;
  }
}

/**
 * Every error answer writes an `error` point (docs/operations.md, "Metrics"), and the
 * notable ones a log line (report.ts): webhooks refused, other 401 and 403, a bad var and
 * an internal error. What is logged is the code, the route, the channel and Herald's own
 * message, never what the request carried.
 */
async function refused(c: Context<App>, code: ErrorCode, response: Response, err?: Error): Promise<Response> {
  const route = routeOf(c);
  const channel = namedChannel(c);
  const status = response.status;
  await c.get('metrics').record({ kind: 'error', route, code, status }, channel);
  if (err instanceof ConfigError) {
    reportConfigError(err.message);
  } else if (code === 'internal_error') {
    report({ event: 'internal_error', route, code, error: String(err), stack: err?.stack });
  } else if (route === 'POST /v1/hooks/{channel}') {
    // A HubError's message is Herald's own, and the sender got it too.
    report({ event: 'webhook_refused', channel: channel ?? '', code, status, message: err instanceof HubError ? err.message : '' });
  } else if (status === 401 || status === 403) {
    report({ event: 'auth_refused', route, channel: channel ?? '', code, status });
  }
  return response;
}

app.notFound((c) =>
  refused(
    c,
    'not_found',
    errorResponse(
      'not_found',
      'No such route. See docs/api.md: /v1/channels/{channel}/events, /v1/events?channel=…, /v1/channels/{channel}, /v1/hooks/{channel}, /healthz.',
    ),
  ),
);

app.onError((err, c) => {
  const { code, response } = answerTo(err);
  return refused(c, code, response, err);
});

export default app;
