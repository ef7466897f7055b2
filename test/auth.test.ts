// Publish rights, API.md "Auth": bearer PUBLISH_KEY; a hub without one fails closed.
import { describe, expect, it } from 'vitest';
import { bearerToken, requirePublishKey, sameSecret } from '../src/auth';
import { HeraldError } from '../src/errors';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    if (err instanceof HeraldError) return err.code;
    throw err;
  }
}

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

describe('requirePublishKey', () => {
  it('lets the right key through', async () => {
    expect(await codeOf(requirePublishKey('Bearer s3cret', 's3cret'))).toBeUndefined();
  });
  it.each([
    ['no header', undefined, 'unauthorized'],
    ['a wrong key', 'Bearer nope', 'unauthorized'],
    ['a prefix of the key', 'Bearer s3cre', 'unauthorized'],
    ['another scheme', 'Basic s3cret', 'unauthorized'],
  ])('refuses %s with 401', async (_, header, code) => {
    expect(await codeOf(requirePublishKey(header, 's3cret'))).toBe(code);
  });
  it('refuses everyone when no key is configured', async () => {
    expect(await codeOf(requirePublishKey('Bearer anything', undefined))).toBe('auth_not_configured');
    expect(await codeOf(requirePublishKey(undefined, undefined))).toBe('auth_not_configured');
  });
  it('compares secrets exactly', async () => {
    expect(await sameSecret('a', 'a')).toBe(true);
    expect(await sameSecret('a', 'b')).toBe(false);
    expect(await sameSecret('a', 'aa')).toBe(false);
  });
});
