// docs/operations.md over HTTP: the data points each request writes to the METRICS binding
// (a recording stand-in here), the log lines of notable events and what they leave out,
// and that without the binding nothing is written and every answer is the same.
import { sign as githubSign } from '@octokit/webhooks-methods';
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { sign } from 'hono/jwt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import worker from '../src/index';
import { AUTH, HUB, Stream, publishIds, subscribe, uniqueChannel } from './helpers';

const JWT_SECRET = 'herald-dev-jwt-secret'; // .dev.vars
const WEBHOOK_SECRET = 'whsec_aGVyYWxkLWRldi13ZWJob29rLXNlY3JldA=='; // .dev.vars
const utf8 = new TextEncoder();

/** The recording stand-in for the Analytics Engine binding. */
class Recorder {
  readonly points: AnalyticsEngineDataPoint[] = [];
  writeDataPoint(point?: AnalyticsEngineDataPoint): void {
    this.points.push(point!);
  }
}

/** A request to the Worker with METRICS bound to `metrics` (undefined: unbound) and `vars` over env. */
async function call(metrics: Recorder | undefined, path: string, init?: RequestInit, vars: Record<string, unknown> = {}): Promise<Response> {
  return await worker.fetch(new Request(`${HUB}${path}`, init), { ...env, METRICS: metrics, ...vars }, createExecutionContext());
}

/** SHA-256 of the name, its first 16 bytes in hex: what docs/operations.md says index1 is. */
async function indexOf(channel: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(channel)));
  return [...digest.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function point(kind: string, channel: string, route: string, detail: string, doubles: number[]): Promise<AnalyticsEngineDataPoint> {
  return { indexes: [channel === '' ? '' : await indexOf(channel)], blobs: [kind, channel, route, detail], doubles };
}

const EVENTS = 'POST /v1/channels/{channel}/events';
const STREAM = 'GET /v1/channels/{channel}/events';

async function channelSecret(channel: string): Promise<string> {
  const key = await crypto.subtle.importKey('raw', utf8.encode(WEBHOOK_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, utf8.encode(`herald-webhook:${channel}`));
  return `whsec_${btoa(String.fromCharCode(...new Uint8Array(mac)))}`;
}

/** Every JSON line written through `method` while `run` runs, parsed. */
async function logged(method: 'log' | 'warn' | 'error', run: () => Promise<unknown>): Promise<{ lines: string[]; parsed: Record<string, unknown>[] }> {
  const spy = vi.spyOn(console, method).mockImplementation(() => {});
  try {
    await run();
    const lines = spy.mock.calls.map((args) => String(args[0]));
    return { lines, parsed: lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('data points (METRICS bound)', () => {
  it('a publish writes one publish point: events stored, subscribers reached', async () => {
    const channel = uniqueChannel();
    const metrics = new Recorder();
    expect((await call(metrics, `/v1/channels/${channel}/events`, { method: 'POST', headers: AUTH, body: 'hello' })).status).toBe(201);
    expect(metrics.points).toEqual([await point('publish', channel, EVENTS, 'stored', [1, 0])]);
  });

  it('a batch publish writes one point for the whole batch, with the subscribers it reached', async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel);
    const metrics = new Recorder();
    const body = JSON.stringify({ events: [{ data: 'a' }, { data: 'b' }, { data: 'c' }] });
    const res = await call(metrics, `/v1/channels/${channel}/events`, { method: 'POST', headers: { ...AUTH, 'Content-Type': 'application/json' }, body });
    expect(await res.json()).toMatchObject({ ids: ['1', '2', '3'], subscribers: 1 });
    expect(metrics.points).toEqual([await point('publish', channel, EVENTS, 'stored', [3, 1])]);
    await stream.close();
  });

  it('an idempotent replay writes a replayed point, with nothing stored', async () => {
    const channel = uniqueChannel();
    const init = { method: 'POST', headers: { ...AUTH, 'Idempotency-Key': 'k1' }, body: 'once' };
    expect((await call(new Recorder(), `/v1/channels/${channel}/events`, init)).status).toBe(201);
    const metrics = new Recorder();
    const replay = await call(metrics, `/v1/channels/${channel}/events`, init);
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true');
    expect(metrics.points).toEqual([await point('publish', channel, EVENTS, 'replayed', [0, 0])]);
  });

  it('a subscribe writes one subscribe point when its stream opens, and nothing per delivery', async () => {
    const channel = uniqueChannel();
    const metrics = new Recorder();
    const stream = new Stream(await call(metrics, `/v1/channels/${channel}/events`));
    await stream.until((t) => t.includes(': connected'), 2000, 'the opening');
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    await stream.events(2);
    expect(metrics.points).toEqual([await point('subscribe', channel, STREAM, 'new', [1])]);
    await stream.close();
  });

  it('a resume writes a subscribe point that says resume, and no gap when nothing was lost', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    const metrics = new Recorder();
    const stream = new Stream(await call(metrics, `/v1/channels/${channel}/events`, { headers: { 'Last-Event-ID': '1' } }));
    expect((await stream.events(1)).map((e) => e.id)).toEqual(['2']);
    expect(metrics.points).toEqual([await point('subscribe', channel, STREAM, 'resume', [1])]);
    await stream.close();
  });

  it('a multi-channel subscribe writes one subscribe point per channel, each saying how many the stream has', async () => {
    const [a, b] = [uniqueChannel(), uniqueChannel()];
    const metrics = new Recorder();
    const stream = new Stream(await call(metrics, `/v1/events?channel=${a}&channel=${b}`));
    await stream.until((t) => t.includes(': connected'), 2000, 'the opening');
    expect(metrics.points).toEqual([await point('subscribe', a, 'GET /v1/events', 'new', [2]), await point('subscribe', b, 'GET /v1/events', 'new', [2])]);
    await stream.close();
  });

  it('a HEAD of a stream and a subscribe to a deleted channel write nothing: no stream opened', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'x');
    expect((await call(undefined, `/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    const metrics = new Recorder();
    expect((await call(metrics, `/v1/channels/${channel}/events`, { method: 'HEAD' })).status).toBe(200);
    expect((await call(metrics, `/v1/channels/${channel}/events`)).status).toBe(204);
    expect((await call(metrics, `/v1/events?channel=${channel}`)).status).toBe(204);
    expect(metrics.points).toEqual([]);
  });

  it.each([
    ['a 401 (no credential)', {}, 401, 'unauthorized'],
    ['a 401 (a key that is not the publish key)', { Authorization: 'Bearer not-the-key' }, 401, 'unauthorized'],
    ['a 400 (a body that is not JSON)', { ...AUTH, 'Content-Type': 'application/json' }, 400, 'invalid_json'],
  ])('%s writes one error point with its status and code', async (_, headers, status, code) => {
    const channel = uniqueChannel();
    const metrics = new Recorder();
    const res = await call(metrics, `/v1/channels/${channel}/events`, { method: 'POST', headers, body: '{' });
    expect(res.status).toBe(status);
    expect(metrics.points).toEqual([await point('error', channel, EVENTS, code, [status])]);
  });

  it('a 403 writes one error point with forbidden', async () => {
    const channel = uniqueChannel('team');
    const token = await sign({ herald: { publish: ['other-*'] }, exp: Math.floor(Date.now() / 1000) + 300 }, JWT_SECRET, 'HS256');
    const metrics = new Recorder();
    const res = await call(metrics, `/v1/channels/${channel}/events`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: 'x' });
    expect(res.status).toBe(403);
    expect(metrics.points).toEqual([await point('error', channel, EVENTS, 'forbidden', [403])]);
  });

  it('an error about no valid channel writes an empty channel and index', async () => {
    const metrics = new Recorder();
    expect((await call(metrics, '/v1/channels/a%20b/events', { method: 'POST', headers: AUTH, body: 'x' })).status).toBe(400);
    expect((await call(metrics, '/v1/nothing')).status).toBe(404);
    expect(metrics.points).toEqual([
      await point('error', '', EVENTS, 'invalid_channel', [400]),
      await point('error', '', 'GET (no route)', 'not_found', [404]),
    ]);
  });

  it('a webhook accepted writes a publish point on the hooks route; refused, an error point with its code', async () => {
    const channel = uniqueChannel('hook');
    const body = '{"zen":"Keep it logically awesome."}';
    const signed = { 'X-Hub-Signature-256': await githubSign(await channelSecret(channel), body), 'X-GitHub-Delivery': crypto.randomUUID() };
    const metrics = new Recorder();
    expect((await call(metrics, `/v1/hooks/${channel}`, { method: 'POST', headers: signed, body })).status).toBe(201);
    expect((await call(metrics, `/v1/hooks/${channel}`, { method: 'POST', headers: { 'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}` }, body })).status).toBe(
      401,
    );
    expect(metrics.points).toEqual([
      await point('publish', channel, 'POST /v1/hooks/{channel}', 'stored', [1, 0]),
      await point('error', channel, 'POST /v1/hooks/{channel}', 'invalid_signature', [401]),
    ]);
  });
});

describe('without the METRICS binding', () => {
  it('writes nothing and answers exactly as with it', async () => {
    const channel = uniqueChannel();
    const metrics = new Recorder();
    for (const [path, init] of [
      [`/v1/channels/${channel}/events`, { method: 'POST', body: 'x' }],
      [`/v1/channels/${channel}/events`, { method: 'POST', headers: { ...AUTH, 'Content-Type': 'application/json' }, body: '{' }],
      ['/v1/nothing', {}],
      [`/v1/channels/${channel}`, { headers: AUTH }],
    ] as const) {
      const [bound, unbound] = [await call(metrics, path, init), await call(undefined, path, init)];
      expect([unbound.status, [...unbound.headers], await unbound.text()]).toEqual([bound.status, [...bound.headers], await bound.text()]);
    }
    // A publish and a stream, unbound: the same answers, and the recorder saw only the bound calls above.
    const written = metrics.points.length;
    const published = await call(undefined, `/v1/channels/${channel}/events`, { method: 'POST', headers: AUTH, body: 'y' });
    expect([published.status, await published.json()]).toEqual([201, { channel, ids: ['1'], subscribers: 0 }]);
    const stream = new Stream(await call(undefined, `/v1/channels/${channel}/events`, { headers: { 'Last-Event-ID': '0' } }));
    expect(await stream.until((t) => t.includes('data: y'), 2000, 'the replay')).toBe('retry: 2000\n: connected\n\nid: 1\ndata: y\n\n');
    await stream.close();
    expect(metrics.points).toHaveLength(written);
  });
});

describe('log lines (one JSON line per notable event, no credential in any)', () => {
  it('a refused webhook logs its code and channel, and neither its signature nor any secret', async () => {
    const channel = uniqueChannel('hook');
    const body = 'payload';
    const secret = await channelSecret(channel);
    // Signed with the right secret for another channel: a real signature, refused here.
    const signature = await githubSign(await channelSecret(`${channel}-other`), body);
    const { lines, parsed } = await logged('warn', () =>
      call(undefined, `/v1/hooks/${channel}`, { method: 'POST', headers: { 'X-Hub-Signature-256': signature }, body }),
    );
    expect(parsed).toEqual([
      {
        level: 'warn',
        event: 'webhook_refused',
        channel,
        code: 'invalid_signature',
        status: 401,
        message:
          "X-Hub-Signature-256 does not match the body and this channel's webhook secret (each channel has its own: npm run webhook-secret -- <channel>).",
      },
    ]);
    for (const secretThing of [signature, signature.slice(7), secret, WEBHOOK_SECRET, body]) expect(lines[0]).not.toContain(secretThing);
  });

  it.each([
    ['a wrong key', 'Bearer not-the-publish-key-but-close', 'unauthorized', 401],
    ['a token of another channel', 'jwt', 'forbidden', 403],
  ])('an auth failure with %s logs its code and route, never the credential', async (_, credential, code, status) => {
    const channel = uniqueChannel('team');
    const token =
      credential === 'jwt'
        ? await sign({ herald: { publish: ['other-*'] }, exp: Math.floor(Date.now() / 1000) + 300 }, JWT_SECRET, 'HS256')
        : credential.slice(7);
    const { lines, parsed } = await logged('warn', () =>
      call(undefined, `/v1/channels/${channel}/events`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: 'x' }),
    );
    expect(parsed).toEqual([{ level: 'warn', event: 'auth_refused', route: EVENTS, channel, code, status }]);
    expect(lines[0]).not.toContain(token);
    expect(lines[0]).not.toContain(token.split('.')[2] ?? token);
  });

  it('a delete logs channel_deleted', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'x');
    const { parsed } = await logged('log', () => call(undefined, `/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH }));
    expect(parsed).toEqual([{ level: 'info', event: 'channel_deleted', channel }]);
  });

  it('a bad var logs config_error once, while every request answers 500 invalid_config', async () => {
    const bad = { HEARTBEAT_SECONDS: `x${crypto.randomUUID()}` };
    const metrics = new Recorder();
    const { parsed } = await logged('error', async () => {
      for (let i = 0; i < 2; i++) expect((await call(metrics, '/healthz', {}, bad)).status).toBe(500);
    });
    expect(parsed).toEqual([
      { level: 'error', event: 'config_error', message: `HEARTBEAT_SECONDS must be a whole number ≥ 1, got '${bad.HEARTBEAT_SECONDS}'` },
    ]);
    expect(metrics.points).toEqual([
      await point('error', '', 'GET /healthz', 'invalid_config', [500]),
      await point('error', '', 'GET /healthz', 'invalid_config', [500]),
    ]);
  });

  it('an internal error logs internal_error with what failed; the answer tells nothing of it', async () => {
    const broken = {
      idFromName: () => {
        throw new TypeError('namespace unusable');
      },
    };
    const metrics = new Recorder();
    let res: Response | undefined;
    const { parsed } = await logged('error', async () => {
      res = await call(metrics, `/v1/channels/${uniqueChannel()}`, { headers: AUTH }, { CHANNEL: broken });
    });
    expect(res?.status).toBe(500);
    expect(await res?.text()).not.toContain('namespace unusable');
    expect(parsed).toEqual([
      {
        level: 'error',
        event: 'internal_error',
        route: 'GET /v1/channels/{channel}',
        code: 'internal_error',
        error: 'TypeError: namespace unusable',
        stack: expect.stringContaining('namespace unusable'),
      },
    ]);
    expect(metrics.points.map((p) => p.blobs?.[3])).toEqual(['internal_error']);
  });
});
