// docs/api.md "Auth": HS256 JWTs with the `herald` claim, `*` patterns, exp and nbf, alg pinned.
import { sign } from 'hono/jwt';
import { describe, expect, it } from 'vitest';
import { HubError } from '../src/errors';
import { allows, channelMatches, looksLikeJwt, verifyToken } from '../src/jwt';

const SECRET = 'test-jwt-secret';
const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof HubError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a HubError');
}

describe('channelMatches', () => {
  it.each([
    ['orders', 'orders', true],
    ['orders', 'orders2', false],
    ['*', 'anything', true],
    ['private-user-*', 'private-user-42', true],
    ['private-user-*', 'private-user-', true],
    ['private-user-*', 'private-admin-1', false],
    ['*-events', 'team-events', true],
    ['*-events', 'team-event', false],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'acb', false],
    ['a*a', 'a', false],
    ['ab*ba', 'aba', false],
    ['x.y', 'xzy', false],
  ])('%j against %j: %s', (pattern, channel, expected) => {
    expect(channelMatches(pattern, channel)).toBe(expected);
  });

  it('keeps the rights apart', () => {
    const grants = { publish: ['news'], subscribe: ['private-*'] };
    expect(allows(grants, 'publish', 'news')).toBe(true);
    expect(allows(grants, 'subscribe', 'news')).toBe(false);
    expect(allows(grants, 'subscribe', 'private-x')).toBe(true);
    expect(allows(grants, 'publish', 'private-x')).toBe(false);
  });
});

describe('verifyToken', () => {
  it('reads the grants of a valid token', async () => {
    const token = await sign({ herald: { subscribe: ['private-user-*'] }, exp: now() + 60 }, SECRET, 'HS256');
    expect(looksLikeJwt(token)).toBe(true);
    expect(await verifyToken(token, SECRET)).toEqual({ publish: [], subscribe: ['private-user-*'] });
  });

  it.each([
    ['expired', { herald: { subscribe: ['*'] }, exp: now() - 10 }, 'HS256', SECRET, 'expired'],
    ['not yet valid', { herald: { subscribe: ['*'] }, nbf: now() + 600 }, 'HS256', SECRET, 'not valid yet'],
    ['signed with another secret', { herald: { subscribe: ['*'] } }, 'HS256', 'other-secret', 'JWT_SECRET'],
    ['signed with HS512', { herald: { subscribe: ['*'] } }, 'HS512', SECRET, 'HS256'],
    ['with a herald claim that is not an object', { herald: 'everything' }, 'HS256', SECRET, '"herald" claim must be'],
    ['with a malformed herald claim', { herald: { subscribe: 'private-*' } }, 'HS256', SECRET, 'lists of channel patterns'],
  ] as const)('refuses a token %s with 401 invalid_token', async (_, payload, alg, secret, why) => {
    const token = await sign(payload, secret, alg);
    const error = await failure(verifyToken(token, SECRET));
    expect(error.code).toBe('invalid_token');
    expect(error.message).toContain(why);
  });

  it('reads a token without a herald claim as granting nothing, as an empty claim does (issue 10: 403, not 401)', async () => {
    expect(await verifyToken(await sign({ sub: 'x' }, SECRET, 'HS256'), SECRET)).toEqual({ publish: [], subscribe: [] });
  });

  it("accepts a token whose iat is a little ahead of the hub's clock", async () => {
    const token = await sign({ herald: { publish: ['x'] }, iat: now() + 5, exp: now() + 60 }, SECRET, 'HS256');
    expect(await verifyToken(token, SECRET)).toEqual({ publish: ['x'], subscribe: [] });
  });

  it('refuses alg: none', async () => {
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ herald: { publish: ['*'] } })}.`;
    expect((await failure(verifyToken(token, SECRET))).code).toBe('invalid_token');
  });

  it('refuses a tampered payload', async () => {
    const token = await sign({ herald: { subscribe: ['private-a'] } }, SECRET, 'HS256');
    const [header, , signature] = token.split('.');
    const forged = `${header}.${b64url({ herald: { subscribe: ['*'] } })}.${signature}`;
    expect((await failure(verifyToken(forged, SECRET))).code).toBe('invalid_token');
  });
});
