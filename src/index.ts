/**
 * Herald's Worker: the HTTP routes of docs/api.md. Each handler parses and authorises the
 * request, then forwards it to the channel's Durable Object. A subscribe is answered here,
 * at the edge: the Worker holds the stream (session.ts) and a hibernatable WebSocket to
 * each channel's object (link.ts), so the object can sleep while subscribers stay connected.
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie } from 'hono/cookie';
import { authorize, bearerToken, subscriberToken } from './auth';
import type { EventInput, Env } from './channel';
import { ConfigError, MAX_BODY_BYTES, readConfig, type Config } from './config';
import { cors } from './cors';
import { cursorText, parseChannelSet, parseCursor } from './cursor';
import { HubError, errorResponse } from './errors';
import { parseChannel, parseEventId, parseIdempotencyKey, parseLimit, resumePoint } from './input';
import type { Right } from './jwt';
import { ChannelLink } from './link';
import { MergedFraming } from './merge';
import { fingerprint, parsePublishBody } from './body';
import { regionOf, type Whereabouts } from './region';
import { ChannelRoute, rootStub } from './route';
import { Session, singleChannel } from './session';
import { FULL_RETRY_MS, SSE_HEADERS, UNAVAILABLE_RETRY_MS, encodeMergedOpening, encodeOpening, encodeRetryOnly } from './sse';
import { channelWebhookSecret } from './webhook-secret';
import { verifyDelivery } from './webhooks';

export { Channel } from './channel';
export { Relay } from './relay';

type App = { Bindings: Env; Variables: { config: Config } };

const app = new Hono<App>();

app.use(async (c, next) => {
  c.set('config', readConfig(c.env));
  await next();
});
app.use(cors((c) => c.get('config').cors));

function channelOf(c: Context<App>) {
  const name = parseChannel(c.req.param('channel') ?? '');
  return { name, stub: rootStub(c.env, name) };
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

const requires = (right: Right) => async (c: Context<App>, next: () => Promise<void>): Promise<void> => {
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
  return accept !== undefined && accept.includes('application/json') && !accept.includes('text/event-stream');
}

/** Stores events in the channel and answers as docs/api.md's Publish says, idempotency included. */
async function publish(c: Context<App>, events: EventInput[], key: string | undefined): Promise<Response> {
  const { name, stub } = channelOf(c);
  const idempotency = key === undefined ? undefined : { key, fingerprint: await fingerprint(events) };
  const outcome = await stub.publish({ channel: name, events, idempotency });
  switch (outcome.kind) {
    case 'published':
      return c.body(outcome.body, 201, { 'Content-Type': 'application/json' });
    case 'replayed':
      return c.body(outcome.body, 201, { 'Content-Type': 'application/json', 'Idempotent-Replayed': 'true' });
    case 'key_reused':
      throw new HubError(
        'idempotency_key_reused',
        'This Idempotency-Key was already used on this channel with a different body. Use a new key for a new event.',
      );
  }
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
  const opened = await route.attach(from, from === null ? 'new' : 'resume');
  if (opened.kind !== 'open') return refusal(c, opened.kind);
  const link = new ChannelLink((after) => route.attach(after), opened.socket, from ?? opened.lastId);
  const session = new Session([link], singleChannel, encodeOpening(config.retryMs, from === null ? opened.lastId : null), config);
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
  const session = new Session(links, framing, encodeMergedOpening(config.retryMs, cursorText(positions), deleted), config);
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
  const { stub } = channelOf(c);
  await stub.remove();
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

app.notFound(() => errorResponse('not_found', 'No such route. See docs/api.md: /v1/channels/{channel}/events, /v1/events?channel=…, /v1/channels/{channel}, /v1/hooks/{channel}, /healthz.'));

app.onError((err) => {
  if (err instanceof HubError) return err.toResponse();
  if (err instanceof ConfigError) return errorResponse('invalid_config', err.message);
  // Durable Object errors say whether a retry can succeed (e.g. an overloaded object).
  if ((err as { retryable?: boolean }).retryable === true) {
    return errorResponse('unavailable', 'The channel is busy or restarting. Retry shortly.', { 'Retry-After': '1' });
  }
  console.error('unexpected error', err);
  return errorResponse('internal_error', 'The hub failed to handle this request. Retry; if it persists, report it.');
});

export default app;
