// Names, ids, keys and limits: docs/api.md "Channels", "Publish", "Idempotency" and the JSON history.
import { describe, expect, it } from 'vitest';
import { HubError } from '../src/errors';
import { parseChannel, parseEventId, parseEventName, parseIdempotencyKey, parseLimit, resumePoint } from '../src/input';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof HubError) return err.code;
    throw err;
  }
}

describe('parseChannel', () => {
  it.each(['a', 'orders', 'A-z_0.9:~@', 'x'.repeat(128), 'private-user-1', 'user@example.com'])('accepts %j', (name) => {
    expect(parseChannel(name)).toBe(name);
  });
  it.each([
    ['empty', ''],
    ['129 characters', 'x'.repeat(129)],
    ['a slash', 'a/b'],
    ['a space', 'a b'],
    ['NUL', 'a\u0000b'],
    ['LF', 'a\nb'],
    ['non-ASCII', 'café'],
    ['percent', 'a%2Fb'],
    ['a star', 'a*'],
  ])('refuses %s with invalid_channel', (_, name) => {
    expect(codeOf(() => parseChannel(name))).toBe('invalid_channel');
  });
});

describe('parseEventName', () => {
  it.each(['message', 'tick', 'order.created', 'a:b-c_d', 'x'.repeat(64)])('accepts %j', (name) => {
    expect(parseEventName(name)).toBe(name);
  });
  it.each([
    ['empty', ''],
    ['65 characters', 'x'.repeat(65)],
    ['CR', 'a\rb'],
    ['LF', 'tick\nid: 999'],
    ['NUL', 'a\u0000'],
    ['colon space', 'a: b'],
    ['the reserved gap', 'gap'],
    ['the reserved close', 'close'],
    ['a tilde (allowed in channels only)', 'a~b'],
  ])('refuses %s with invalid_event', (_, name) => {
    expect(codeOf(() => parseEventName(name))).toBe('invalid_event');
  });
});

describe('event ids', () => {
  it.each([
    ['0', 0],
    ['42', 42],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('parses %j', (text, id) => {
    expect(parseEventId(text, 'id')).toBe(id);
  });
  it.each(['', '-1', '1.5', 'abc', '1e3', ' 1', '9007199254740992', '99999999999999999'])('refuses %j', (text) => {
    expect(codeOf(() => parseEventId(text, 'id'))).toBe('invalid_last_event_id');
  });
  it('takes the Last-Event-ID header over the lastEventId parameter', () => {
    expect(resumePoint('7', '3')).toBe(7);
    expect(resumePoint(undefined, '3')).toBe(3);
    expect(resumePoint(undefined, undefined)).toBeNull();
    expect(codeOf(() => resumePoint('x', '3'))).toBe('invalid_last_event_id');
  });
});

describe('parseLimit', () => {
  it.each([
    [undefined, 100],
    ['1', 1],
    ['1000', 1000],
  ])('reads %j as %d', (text, limit) => {
    expect(parseLimit(text)).toBe(limit);
  });
  it.each(['0', '1001', '-5', 'ten', '', '2.5'])('refuses %j with invalid_limit', (text) => {
    expect(codeOf(() => parseLimit(text))).toBe('invalid_limit');
  });
});

describe('parseIdempotencyKey', () => {
  it.each(['k', 'order-42 retry', 'x'.repeat(200), '~!@#$%^&*()'])('accepts %j', (key) => {
    expect(parseIdempotencyKey(key)).toBe(key);
  });
  it('treats a missing header as no key', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });
  it.each([
    ['empty', ''],
    ['201 characters', 'x'.repeat(201)],
    ['a tab', 'a\tb'],
    ['non-ASCII', 'clé'],
    ['DEL', 'a\u007f'],
  ])('refuses %s with invalid_idempotency_key', (_, key) => {
    expect(codeOf(() => parseIdempotencyKey(key))).toBe('invalid_idempotency_key');
  });
});
