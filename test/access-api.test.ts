// docs/api.md "Auth", "Webhooks" and CORS over HTTP: private channels, scoped tokens,
// token sources, signed webhooks, fail-closed secrets and CORS grants.
import { sign as githubSign } from '@octokit/webhooks-methods';
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { sign } from 'hono/jwt';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import worker from '../src/index';
import { AUTH, HUB, errorOf, hub, publishIds, subscribe, uniqueChannel } from './helpers';

const JWT_SECRET = 'herald-dev-jwt-secret'; // .dev.vars
const WEBHOOK_SECRET = 'whsec_aGVyYWxkLWRldi13ZWJob29rLXNlY3JldA=='; // .dev.vars

/** The channel's webhook secret, derived here as docs/api.md "Webhooks" spells it out for senders. */
async function channelSecret(channel: string): Promise<string> {
  const utf8 = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', utf8.encode(WEBHOOK_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, utf8.encode(`herald-webhook:${channel}`));
  return `whsec_${btoa(String.fromCharCode(...new Uint8Array(mac)))}`;
}

function standardHeaders(secret: string, id: string, payload: string): Record<string, string> {
  const at = new Date();
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(secret).sign(id, at, payload) };
}
const nowSeconds = () => Math.floor(Date.now() / 1000);
const token = (herald: object, claims: object = {}) => sign({ herald, exp: nowSeconds() + 300, ...claims }, JWT_SECRET, 'HS256');

async function withEnv(vars: Record<string, string | undefined>, path: string, init?: RequestInit): Promise<Response> {
  return await worker.fetch(new Request(`${HUB}${path}`, init), { ...env, ...vars }, createExecutionContext());
}

describe('private channels', () => {
  it.each([
    ['Authorization: Bearer', (t: string) => ({ init: { headers: { Authorization: `Bearer ${t}` } }, query: '' })],
    ['the token parameter', (t: string) => ({ init: {}, query: `?token=${t}` })],
    ['the herald_token cookie', (t: string) => ({ init: { headers: { Cookie: `theme=dark; herald_token=${t}` } }, query: '' })],
  ])('lets a subscriber in with a token in %s', async (_, place) => {
    const channel = uniqueChannel('private-user');
    const { init, query } = place(await token({ subscribe: ['private-user-*'] }));
    const stream = await subscribe(channel, init, query);
    await publishIds(channel, 'secret news');
    expect((await stream.events(1))[0]).toEqual({ id: '1', event: undefined, data: 'secret news' });
    await stream.close();
  });

  it.each([
    ['no token', async () => ({}), 401, 'unauthorized'],
    ['an expired token', async () => ({ Authorization: `Bearer ${await token({ subscribe: ['*'] }, { exp: nowSeconds() - 5 })}` }), 401, 'invalid_token'],
    ['a token for another channel', async () => ({ Authorization: `Bearer ${await token({ subscribe: ['private-other'] })}` }), 403, 'forbidden'],
    ['a publish-only token', async () => ({ Authorization: `Bearer ${await token({ publish: ['*'] })}` }), 403, 'forbidden'],
    // Issue 10: a valid token that grants nothing, with the claim empty or absent, is 403.
    ['a token with an empty herald claim', async () => ({ Authorization: `Bearer ${await token({})}` }), 403, 'forbidden'],
    [
      'a token without a herald claim',
      async () => ({ Authorization: `Bearer ${await sign({ sub: 'x', exp: nowSeconds() + 300 }, JWT_SECRET, 'HS256')}` }),
      403,
      'forbidden',
    ],
    // It had no WWW-Authenticate before issue 10.
    ['a token with a malformed herald claim', async () => ({ Authorization: `Bearer ${await token({ subscribe: 'private-*' })}` }), 401, 'invalid_token'],
    ['a garbage bearer', async () => ({ Authorization: 'Bearer not-a-token' }), 401, 'unauthorized'],
  ])('refuses %s, also for the JSON history', async (_, headers, status, code) => {
    const channel = uniqueChannel('private-x');
    const h = await headers();
    const res = await hub(`/v1/channels/${channel}/events`, { headers: h });
    // RFC 9110: every 401 says how to authenticate.
    if (status === 401) expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer realm="herald"/);
    expect(await errorOf(res)).toMatchObject({ status, code });
    expect(await errorOf(await hub(`/v1/channels/${channel}/events`, { headers: { ...h, Accept: 'application/json' } }))).toMatchObject({ status, code });
  });

  it('checks the first credential present: a bad bearer is not rescued by a good cookie', async () => {
    const channel = uniqueChannel('private-y');
    const good = await token({ subscribe: [channel] });
    const res = await hub(`/v1/channels/${channel}/events`, { headers: { Authorization: 'Bearer wrong', Cookie: `herald_token=${good}` } });
    expect(await errorOf(res)).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('lets the publish key subscribe to any private channel', async () => {
    const stream = await subscribe(uniqueChannel('private-z'), { headers: AUTH });
    expect(stream.response.status).toBe(200);
    await stream.close();
  });

  it('fails closed with 503 when the hub has no secret at all', async () => {
    const res = await withEnv({ PUBLISH_KEY: undefined, JWT_SECRET: undefined }, `/v1/channels/private-a/events`);
    expect(await errorOf(res)).toMatchObject({ status: 503, code: 'auth_not_configured' });
  });
});

describe('scoped publish tokens', () => {
  it('publishes, reads info and deletes with a token whose publish pattern matches', async () => {
    const channel = uniqueChannel('team');
    const headers = { Authorization: `Bearer ${await token({ publish: ['team-*'] })}` };
    const res = await hub(`/v1/channels/${channel}/events`, { method: 'POST', headers, body: 'x' });
    expect(res.status).toBe(201);
    expect((await hub(`/v1/channels/${channel}`, { headers })).status).toBe(200);
    expect((await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers })).status).toBe(204);
  });

  it("forbids a channel outside the token's patterns with 403", async () => {
    const headers = { Authorization: `Bearer ${await token({ publish: ['team-*'] })}` };
    const res = await hub(`/v1/channels/${uniqueChannel('other')}/events`, { method: 'POST', headers, body: 'x' });
    expect(await errorOf(res)).toMatchObject({ status: 403, code: 'forbidden' });
  });

  it('takes publish credentials from the Authorization header only, never the URL or a cookie', async () => {
    const t = await token({ publish: ['*'] });
    const channel = uniqueChannel();
    expect(await errorOf(await hub(`/v1/channels/${channel}/events?token=${t}`, { method: 'POST', body: 'x' }))).toMatchObject({ status: 401 });
    expect(await errorOf(await hub(`/v1/channels/${channel}/events`, { method: 'POST', body: 'x', headers: { Cookie: `herald_token=${t}` } }))).toMatchObject({
      status: 401,
    });
  });
});

describe('POST /v1/hooks/{channel}', () => {
  const body = '{"zen":"Keep it logically awesome.","hook_id":1}';

  it('publishes a GitHub delivery with its event name, and a redelivery only once', async () => {
    const channel = uniqueChannel('gh');
    const stream = await subscribe(channel);
    const headers = {
      'Content-Type': 'application/json',
      'X-Hub-Signature-256': await githubSign(await channelSecret(channel), body),
      'X-GitHub-Event': 'ping',
      'X-GitHub-Delivery': crypto.randomUUID(),
    };
    const first = await hub(`/v1/hooks/${channel}`, { method: 'POST', headers, body });
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ channel, ids: ['1'], subscribers: 1 });
    const again = await hub(`/v1/hooks/${channel}`, { method: 'POST', headers, body });
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    expect(await stream.events(1)).toEqual([{ id: '1', event: 'ping', data: body }]);
    await publishIds(channel, 'after');
    expect((await stream.events(2))[1]?.id).toBe('2');
    await stream.close();
  });

  it('publishes a Standard Webhooks delivery, named by ?event=', async () => {
    const channel = uniqueChannel('sw');
    const headers = standardHeaders(await channelSecret(channel), `msg_${crypto.randomUUID()}`, body);
    const res = await hub(`/v1/hooks/${channel}?event=invoice.paid`, { method: 'POST', headers, body });
    expect(res.status).toBe(201);
    const history = (await (await hub(`/v1/channels/${channel}/events`, { headers: { Accept: 'application/json' } })).json()) as {
      events: Array<{ event: string; data: string }>;
    };
    expect(history.events.map((e) => [e.event, e.data])).toEqual([['invoice.paid', body]]);
  });

  it.each([
    ['unsigned', {}],
    ['badly signed', { 'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}` }],
    ['stale', { 'webhook-id': 'm', 'webhook-timestamp': String(nowSeconds() - 600), 'webhook-signature': 'v1,AAAA' }],
  ])('refuses a %s delivery with 401 invalid_signature and stores nothing', async (_, headers) => {
    const channel = uniqueChannel('hook');
    expect(await errorOf(await hub(`/v1/hooks/${channel}`, { method: 'POST', headers, body }))).toMatchObject({ status: 401, code: 'invalid_signature' });
    expect(await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()).toMatchObject({ lastEventId: null });
  });

  it.each([
    ['GitHub', async (secret: string) => ({ 'X-Hub-Signature-256': await githubSign(secret, body), 'X-GitHub-Delivery': crypto.randomUUID() })],
    ['Standard Webhooks', async (secret: string) => standardHeaders(secret, `msg_${crypto.randomUUID()}`, body)],
  ])('refuses a %s delivery replayed to another channel, or signed with the global secret, with 401', async (_, signed) => {
    const [mine, other] = [uniqueChannel('hook'), uniqueChannel('hook')];
    const headers = await signed(await channelSecret(mine));
    expect((await hub(`/v1/hooks/${mine}`, { method: 'POST', headers, body })).status).toBe(201);
    expect(await errorOf(await hub(`/v1/hooks/${other}`, { method: 'POST', headers, body }))).toMatchObject({ status: 401, code: 'invalid_signature' });
    // No fallback to WEBHOOK_SECRET itself: a sender still configured with it is refused.
    const global = await signed(WEBHOOK_SECRET);
    expect(await errorOf(await hub(`/v1/hooks/${other}`, { method: 'POST', headers: global, body }))).toMatchObject({ status: 401, code: 'invalid_signature' });
    expect(await (await hub(`/v1/channels/${other}`, { headers: AUTH })).json()).toMatchObject({ lastEventId: null });
  });

  it('fails closed with 503 naming WEBHOOK_SECRET when it is not set', async () => {
    const res = await withEnv({ WEBHOOK_SECRET: undefined }, `/v1/hooks/${uniqueChannel()}`, {
      method: 'POST',
      headers: { 'X-Hub-Signature-256': await githubSign('anything', body) },
      body,
    });
    const error = await errorOf(res);
    expect(error).toMatchObject({ status: 503, code: 'auth_not_configured' });
    expect(error.message).toContain('WEBHOOK_SECRET');
  });
});

describe('CORS', () => {
  const listed = { CORS_ORIGINS: 'https://app.example, https://admin.example' };

  it('echoes a listed origin with credentials on streams, JSON and errors', async () => {
    const channel = uniqueChannel();
    for (const [path, init] of [
      [`/v1/channels/${channel}/events`, {}],
      [`/v1/channels/${channel}/events`, { headers: { Accept: 'application/json' } }],
      [`/v1/channels/${channel}`, {}],
    ] as const) {
      const res = await withEnv(listed, path, { ...init, headers: { ...('headers' in init ? init.headers : {}), Origin: 'https://app.example' } });
      expect(res.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example');
      expect(res.headers.get('Access-Control-Allow-Credentials')).toBe('true');
      expect(res.headers.get('Vary')).toContain('Origin');
      await res.body?.cancel();
    }
  });

  it('grants nothing to an unlisted origin', async () => {
    const res = await withEnv(listed, '/healthz', { headers: { Origin: 'https://evil.example' } });
    expect(res.headers.get('Access-Control-Allow-Origin')).toBeNull();
    expect(res.headers.get('Access-Control-Allow-Credentials')).toBeNull();
  });

  it('answers a preflight for publishing from a listed origin', async () => {
    const res = await withEnv(listed, `/v1/channels/${uniqueChannel()}/events`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://admin.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('https://admin.example');
    expect(res.headers.get('Access-Control-Allow-Methods')).toBe('GET, POST, DELETE');
    expect(res.headers.get('Access-Control-Allow-Headers')).toBe('Authorization, Content-Type, Idempotency-Key, Last-Event-ID');
  });

  it('refuses a preflight from an unlisted origin', async () => {
    const res = await withEnv(listed, '/v1/channels/a/events', {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(res.headers.get('Access-Control-Allow-Origin')).toBeNull();
    expect(res.headers.get('Access-Control-Allow-Methods')).toBeNull();
  });

  it('grants * without credentials', async () => {
    const res = await withEnv({ CORS_ORIGINS: '*' }, '/healthz', { headers: { Origin: 'https://any.example' } });
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('*');
    expect(res.headers.get('Access-Control-Allow-Credentials')).toBeNull();
  });
});
