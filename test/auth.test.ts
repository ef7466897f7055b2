// docs/api.md "Auth": who may publish and subscribe; 401 vs 403; fail closed without secrets.
import { describe, expect, it } from 'vitest';
import { sign } from 'hono/jwt';
import { authorize, bearerToken, sameSecret, subscriberToken, type Secrets } from '../src/auth';
import { HubError } from '../src/errors';

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    [undefined, undefined],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('sameSecret', () => {
  it('compares secrets exactly', async () => {
    expect(await sameSecret('a', 'a')).toBe(true);
    expect(await sameSecret('a', 'b')).toBe(false);
    expect(await sameSecret('a', 'aa')).toBe(false);
  });
});

const BOTH: Secrets = { publishKey: 'pk', jwtSecret: 'js' };
const token = (herald: object, secret = 'js') => sign({ herald, exp: Math.floor(Date.now() / 1000) + 60 }, secret, 'HS256');

async function outcome(promise: Promise<void>): Promise<string> {
  try {
    await promise;
    return 'allowed';
  } catch (err) {
    if (err instanceof HubError) return err.code;
    throw err;
  }
}

describe('authorize', () => {
  it('lets anyone subscribe to a public channel, whatever token they carry', async () => {
    expect(await outcome(authorize({ channel: 'news', right: 'subscribe', token: undefined }, BOTH))).toBe('allowed');
    expect(await outcome(authorize({ channel: 'news', right: 'subscribe', token: 'garbage' }, BOTH))).toBe('allowed');
    expect(await outcome(authorize({ channel: 'news', right: 'subscribe', token: undefined }, { publishKey: undefined, jwtSecret: undefined }))).toBe(
      'allowed',
    );
  });

  it('lets the publish key do anything', async () => {
    for (const right of ['publish', 'subscribe'] as const) {
      expect(await outcome(authorize({ channel: 'private-x', right, token: 'pk' }, BOTH))).toBe('allowed');
    }
  });

  it.each([
    ['publish with a matching publish pattern', 'publish', 'orders', { publish: ['ord*'] }, 'allowed'],
    ['publish with only a subscribe pattern', 'publish', 'orders', { subscribe: ['*'] }, 'forbidden'],
    ['subscribe to a private channel it names', 'subscribe', 'private-user-1', { subscribe: ['private-user-*'] }, 'allowed'],
    ['subscribe to another private channel', 'subscribe', 'private-admin', { subscribe: ['private-user-*'] }, 'forbidden'],
    ['subscribe with only a publish pattern', 'subscribe', 'private-user-1', { publish: ['*'] }, 'forbidden'],
  ] as const)('a token may %s: %s', async (_, right, channel, herald, expected) => {
    expect(await outcome(authorize({ channel, right, token: await token(herald) }, BOTH))).toBe(expected);
  });

  it.each([
    ['no credential to publish', 'publish', 'orders', undefined, 'unauthorized'],
    ['no credential for a private channel', 'subscribe', 'private-a', undefined, 'unauthorized'],
    ['a wrong key', 'publish', 'orders', 'nope', 'unauthorized'],
    ['a token signed with another secret', 'publish', 'orders', 'other', 'invalid_token'],
  ] as const)('refuses %s', async (_, right, channel, credential, expected) => {
    const tokenValue = credential === 'other' ? await token({ publish: ['*'] }, 'wrong') : credential;
    expect(await outcome(authorize({ channel, right, token: tokenValue }, BOTH))).toBe(expected);
  });

  it('fails closed with 503 when the hub has neither secret', async () => {
    const none: Secrets = { publishKey: undefined, jwtSecret: undefined };
    expect(await outcome(authorize({ channel: 'orders', right: 'publish', token: 'x' }, none))).toBe('auth_not_configured');
    expect(await outcome(authorize({ channel: 'private-a', right: 'subscribe', token: 'x' }, none))).toBe('auth_not_configured');
  });

  it('refuses tokens on a hub without JWT_SECRET and keys on one without PUBLISH_KEY', async () => {
    const keyOnly: Secrets = { publishKey: 'pk', jwtSecret: undefined };
    expect(await outcome(authorize({ channel: 'o', right: 'publish', token: await token({ publish: ['*'] }) }, keyOnly))).toBe('invalid_token');
    const jwtOnly: Secrets = { publishKey: undefined, jwtSecret: 'js' };
    expect(await outcome(authorize({ channel: 'o', right: 'publish', token: 'pk' }, jwtOnly))).toBe('unauthorized');
    expect(await outcome(authorize({ channel: 'o', right: 'publish', token: await token({ publish: ['o'] }) }, jwtOnly))).toBe('allowed');
  });
});

describe('subscriberToken', () => {
  it('takes Authorization, then the token parameter, then the cookie: the first present', () => {
    expect(subscriberToken({ bearer: 'a', query: 'b', cookie: 'c' })).toBe('a');
    expect(subscriberToken({ bearer: undefined, query: 'b', cookie: 'c' })).toBe('b');
    expect(subscriberToken({ bearer: undefined, query: undefined, cookie: 'c' })).toBe('c');
    expect(subscriberToken({ bearer: undefined, query: undefined, cookie: undefined })).toBeUndefined();
  });
});
