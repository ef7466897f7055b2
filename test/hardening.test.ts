// The hardening suite: bad input of every kind docs/api.md names gets its status and JSON error
// code, stores nothing and delivers nothing; and no publish input can inject an SSE field.
import { sign as githubSign } from '@octokit/webhooks-methods';
import { sign } from 'hono/jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, errorOf, hub, mulberry32, parseSse, publish, subscribe, uniqueChannel, type Stream } from './helpers';

const JWT_SECRET = 'herald-dev-jwt-secret'; // .dev.vars
const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64url = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const JSON_TYPE = { 'Content-Type': 'application/json' };

/** A bad request: where it goes (the channel placeholder is filled per case), and what it must get. */
interface Case {
  name: string;
  path: (channel: string) => string;
  init: () => Promise<RequestInit>;
  status: number;
  code: string;
}

const events = (channel: string) => `/v1/channels/${channel}/events`;
const post = (headers: Record<string, string>, body: BodyInit) => async (): Promise<RequestInit> => ({ method: 'POST', headers, body });
const get =
  (headers: Record<string, string> = {}) =>
  async (): Promise<RequestInit> => ({ headers });
const withToken = (make: () => Promise<string>) => async (): Promise<RequestInit> => ({ method: 'POST', headers: bearer(await make()), body: 'x' });

const CASES: Case[] = [
  // Channel names (docs/api.md "Channels").
  { name: 'an empty channel name', path: () => '/v1/channels//events', init: post(AUTH, 'x'), status: 400, code: 'invalid_channel' },
  { name: 'a 129-character channel name', path: () => events('c'.repeat(129)), init: post(AUTH, 'x'), status: 400, code: 'invalid_channel' },
  { name: 'a channel name with /', path: () => '/v1/channels/a/b/events', init: post(AUTH, 'x'), status: 400, code: 'invalid_channel' },
  { name: 'a channel name with %2F', path: () => events('a%2Fb'), init: post(AUTH, 'x'), status: 400, code: 'invalid_channel' },
  // The URL parser resolves ".." before the hub sees it: the path is /v1/events, which only
  // takes GET (the multi-channel stream, docs/api.md).
  { name: 'a channel name of ..', path: () => events('..'), init: post(AUTH, 'x'), status: 405, code: 'method_not_allowed' },
  { name: 'a channel name of %2E%2E', path: () => events('%2E%2E'), init: post(AUTH, 'x'), status: 405, code: 'method_not_allowed' },
  { name: 'a channel name with a space', path: () => events('a%20b'), init: post(AUTH, 'x'), status: 400, code: 'invalid_channel' },
  { name: 'a channel name with NUL', path: () => events('a%00b'), init: post(AUTH, 'x'), status: 400, code: 'invalid_channel' },
  { name: 'a non-ASCII channel name', path: () => events('caf%C3%A9'), init: post(AUTH, 'x'), status: 400, code: 'invalid_channel' },
  { name: 'a webhook to a channel with /', path: () => '/v1/hooks/a/b', init: post({}, 'x'), status: 400, code: 'invalid_channel' },
  // Event names (docs/api.md "Publish").
  { name: 'an event name with CR', path: (c) => `${events(c)}?event=a%0Db`, init: post(AUTH, 'x'), status: 400, code: 'invalid_event' },
  { name: 'an event name with LF', path: (c) => `${events(c)}?event=tick%0Aid:%20999`, init: post(AUTH, 'x'), status: 400, code: 'invalid_event' },
  { name: 'an event name with NUL', path: (c) => `${events(c)}?event=a%00`, init: post(AUTH, 'x'), status: 400, code: 'invalid_event' },
  { name: 'an event name with ": "', path: (c) => `${events(c)}?event=a:%20b`, init: post(AUTH, 'x'), status: 400, code: 'invalid_event' },
  {
    name: 'a 65-character event name',
    path: events,
    init: post({ ...AUTH, ...JSON_TYPE }, JSON.stringify({ data: 1, event: 'e'.repeat(65) })),
    status: 400,
    code: 'invalid_event',
  },
  { name: 'the event name close', path: events, init: post({ ...AUTH, ...JSON_TYPE }, '{"data":1,"event":"close"}'), status: 400, code: 'invalid_event' },
  // Bodies.
  { name: 'an invalid UTF-8 text body', path: events, init: post(AUTH, new Uint8Array([0x61, 0xc3, 0x28])), status: 400, code: 'invalid_data' },
  {
    name: 'an invalid UTF-8 JSON body',
    path: events,
    init: post({ ...AUTH, ...JSON_TYPE }, new Uint8Array([0x7b, 0xff, 0x7d])),
    status: 400,
    code: 'invalid_data',
  },
  { name: 'malformed JSON', path: events, init: post({ ...AUTH, ...JSON_TYPE }, '{"data": "x",}'), status: 400, code: 'invalid_json' },
  { name: 'JSON null', path: events, init: post({ ...AUTH, ...JSON_TYPE }, 'null'), status: 400, code: 'invalid_payload' },
  { name: 'a JSON event with an id', path: events, init: post({ ...AUTH, ...JSON_TYPE }, '{"data":"x","id":"7"}'), status: 400, code: 'invalid_payload' },
  {
    name: 'a batch of 101',
    path: events,
    init: post({ ...AUTH, ...JSON_TYPE }, JSON.stringify({ events: Array.from({ length: 101 }, () => ({ data: 1 })) })),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'a batch over 1 MiB',
    path: events,
    init: post({ ...AUTH, ...JSON_TYPE }, JSON.stringify({ events: Array.from({ length: 20 }, () => ({ data: 'b'.repeat(60_000) })) })),
    status: 413,
    code: 'payload_too_large',
  },
  { name: 'an event over 64 KiB', path: events, init: post(AUTH, 'o'.repeat(65_537)), status: 413, code: 'payload_too_large' },
  {
    name: 'a malformed Idempotency-Key',
    path: events,
    init: post({ ...AUTH, 'Idempotency-Key': 'tab\tinside' }, 'x'),
    status: 400,
    code: 'invalid_idempotency_key',
  },
  // Credentials (docs/api.md "Auth").
  { name: 'a publish without credentials', path: events, init: post({}, 'x'), status: 401, code: 'unauthorized' },
  { name: 'a wrong publish key', path: events, init: post(bearer('herald-dev-key-2'), 'x'), status: 401, code: 'unauthorized' },
  {
    name: 'a tampered token',
    path: events,
    status: 401,
    code: 'invalid_token',
    init: withToken(async () => {
      const [h, , s] = (await sign({ herald: { publish: ['nothing'] } }, JWT_SECRET, 'HS256')).split('.');
      return `${h}.${b64url({ herald: { publish: ['*'] } })}.${s}`;
    }),
  },
  {
    name: 'an expired token',
    path: events,
    status: 401,
    code: 'invalid_token',
    init: withToken(() => sign({ herald: { publish: ['*'] }, exp: nowSeconds() - 1 }, JWT_SECRET, 'HS256')),
  },
  {
    name: 'a not-yet-valid token',
    path: events,
    status: 401,
    code: 'invalid_token',
    init: withToken(() => sign({ herald: { publish: ['*'] }, nbf: nowSeconds() + 3600 }, JWT_SECRET, 'HS256')),
  },
  {
    name: 'an alg: none token',
    path: events,
    status: 401,
    code: 'invalid_token',
    init: withToken(async () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ herald: { publish: ['*'] } })}.`),
  },
  {
    name: 'an HS512 token',
    path: events,
    status: 401,
    code: 'invalid_token',
    init: withToken(() => sign({ herald: { publish: ['*'] } }, JWT_SECRET, 'HS512')),
  },
  {
    name: 'a token signed with another secret',
    path: events,
    status: 401,
    code: 'invalid_token',
    init: withToken(() => sign({ herald: { publish: ['*'] } }, 'guess', 'HS256')),
  },
  {
    name: 'a token for other channels',
    path: events,
    status: 403,
    code: 'forbidden',
    init: withToken(() => sign({ herald: { publish: ['someone-else-*'] } }, JWT_SECRET, 'HS256')),
  },
  {
    name: 'a subscribe token used to publish',
    path: events,
    status: 403,
    code: 'forbidden',
    init: withToken(() => sign({ herald: { subscribe: ['*'] } }, JWT_SECRET, 'HS256')),
  },
  { name: 'a private subscribe without a token', path: (c) => events(`private-${c}`), init: get(), status: 401, code: 'unauthorized' },
  {
    name: 'a private multi-channel subscribe without a token',
    path: (c) => `/v1/events?channel=${c}&channel=private-${c}`,
    init: get(),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'a private subscribe with a malformed herald claim',
    path: (c) => events(`private-${c}`),
    status: 401,
    code: 'invalid_token',
    init: async () => ({ headers: bearer(await sign({ herald: { subscribe: 'private-*' } }, JWT_SECRET, 'HS256')) }),
  },
  { name: 'channel info without credentials', path: (c) => `/v1/channels/${c}`, init: get(), status: 401, code: 'unauthorized' },
  {
    name: 'a delete with a wrong key',
    path: (c) => `/v1/channels/${c}`,
    init: async () => ({ method: 'DELETE', headers: bearer('nope') }),
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'a private subscribe with a token for another channel',
    path: (c) => events(`private-${c}`),
    status: 403,
    code: 'forbidden',
    init: async () => ({ headers: bearer(await sign({ herald: { subscribe: ['private-other'] } }, JWT_SECRET, 'HS256')) }),
  },
  // Webhooks (docs/api.md "Webhooks").
  { name: 'an unsigned webhook', path: (c) => `/v1/hooks/${c}`, init: post({}, 'x'), status: 401, code: 'invalid_signature' },
  {
    name: "a webhook signed with WEBHOOK_SECRET, not the channel's secret",
    path: (c) => `/v1/hooks/${c}`,
    status: 401,
    code: 'invalid_signature',
    init: async () => ({ method: 'POST', body: 'x', headers: { 'X-Hub-Signature-256': await githubSign('whsec_aGVyYWxkLWRldi13ZWJob29rLXNlY3JldA==', 'x') } }),
  },
  {
    name: 'a stale Standard webhook',
    path: (c) => `/v1/hooks/${c}`,
    init: post({ 'webhook-id': 'msg', 'webhook-timestamp': String(nowSeconds() - 301), 'webhook-signature': 'v1,AAAA' }, 'x'),
    status: 401,
    code: 'invalid_signature',
  },
  // Resume points and history.
  { name: 'a Last-Event-ID that is not a number', path: events, init: get({ 'Last-Event-ID': '7; id: 8' }), status: 400, code: 'invalid_last_event_id' },
  { name: 'a history limit of 0', path: (c) => `${events(c)}?limit=0`, init: get({ Accept: 'application/json' }), status: 400, code: 'invalid_limit' },
];

describe('bad input', () => {
  let canary: Stream;
  const canaryChannel = uniqueChannel('canary');
  beforeAll(async () => {
    canary = await subscribe(canaryChannel);
  });
  afterAll(async () => {
    // Nothing any bad request sent reached another channel's subscribers.
    await publish(canaryChannel, 'sentinel');
    expect(await canary.events(1)).toEqual([{ id: '1', event: undefined, data: 'sentinel' }]);
    await canary.close();
  });

  it.each(CASES)('$name gets $status $code and stores nothing', async ({ path, init, status, code }) => {
    const channel = uniqueChannel('hard');
    const res = await hub(path(channel), await init());
    expect(res.headers.get('Content-Type')).toBe('application/json');
    const error = await errorOf(res);
    expect(error).toMatchObject({ status, code });
    expect(error.message).not.toMatch(/at .*\.ts|Error:/);
    // RFC 9110 §15.5.2: every 401 names how to authenticate (docs/api.md "Auth").
    const challenge = res.headers.get('WWW-Authenticate');
    if (status === 401) expect(challenge).toMatch(code === 'invalid_signature' ? /^HMAC realm="herald"/ : /^Bearer realm="herald"/);
    else expect(challenge).toBeNull();
    for (const name of [channel, `private-${channel}`]) {
      const info = await hub(`/v1/channels/${name}`, { headers: AUTH });
      expect(await info.json()).toMatchObject({ lastEventId: null, retained: 0 });
    }
  });
});

const PIECES = ['\n', '\r', '\r\n', '\n\n', ':', ' ', 'data: ', 'id: 999', 'event: gap', 'retry: 1', '\u0000', 'é', '🎉', '\u2028', 'x', 'abc', '\t', '\ufeff'];
const NAMES = ['message', 'tick', 'a.b', 'x:y', 'n-1_2'];

describe('no field injection (fuzz)', () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261125);
  it(`delivers each random payload as exactly one event with its data and name (seed ${seed})`, async () => {
    const random = mulberry32(seed);
    const channel = uniqueChannel('fuzz');
    const stream = await subscribe(channel);
    const sent: Array<{ event: string; data: string }> = [];
    for (let i = 0; i < 150; i++) {
      const length = Math.floor(random() * 12);
      const data = Array.from({ length }, () => PIECES[Math.floor(random() * PIECES.length)]).join('');
      const event = NAMES[Math.floor(random() * NAMES.length)]!;
      const asJson = random() < 0.5;
      const res = asJson ? await publish(channel, { data, event }) : await publish(channel, data, {}, `?event=${encodeURIComponent(event)}`);
      expect(res.status, `payload ${JSON.stringify(data)}`).toBe(201);
      // A text body is decoded as UTF-8, which drops one leading byte order mark.
      sent.push({ event, data: asJson ? data : data.replace(/^\ufeff/, '') });
    }
    // Random bytes: valid UTF-8 is published as is, anything else refused with invalid_data.
    for (let i = 0; i < 50; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 16) }, () => Math.floor(random() * 256));
      let text: string | undefined;
      try {
        text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
      } catch {
        text = undefined;
      }
      const res = await hub(`/v1/channels/${channel}/events`, { method: 'POST', headers: AUTH, body: bytes });
      if (text === undefined) {
        expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_data' });
      } else {
        expect(res.status).toBe(201);
        // A leading BOM is not part of the text (WHATWG Encoding "UTF-8 decode").
        sent.push({ event: 'message', data: text.replace(/^\ufeff/, '') });
      }
    }
    const received = await stream.events(sent.length, 15_000);
    // SSE turns each CR, LF or CRLF into LF; nothing else changes.
    const expected = sent.map((e, i) => ({
      id: String(i + 1),
      event: e.event === 'message' ? undefined : e.event,
      data: e.data.replace(/\r\n|\r/g, '\n'),
    }));
    for (const [i, event] of expected.entries()) {
      expect(received[i], `event ${i + 1}, sent ${JSON.stringify(sent[i])}`).toEqual(event);
    }
    expect(received).toHaveLength(expected.length);
    expect(parseSse(stream.text).events).toHaveLength(sent.length);
    await stream.close();
  });
});
