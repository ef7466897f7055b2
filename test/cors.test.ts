// docs/api.md "Auth", CORS: listed origins echoed with credentials, `*` never with credentials.
import { describe, expect, it } from 'vitest';
import { corsHeaders, parseCorsOrigins } from '../src/cors';

describe('parseCorsOrigins', () => {
  it.each([
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    ['*', { kind: 'any' }],
    ['https://a.example, *', { kind: 'any' }],
    ['https://a.example, http://localhost:3000/', { kind: 'listed', origins: new Set(['https://a.example', 'http://localhost:3000']) }],
  ])('reads %j', (value, policy) => {
    expect(parseCorsOrigins(value)).toEqual(policy);
  });
});

describe('corsHeaders', () => {
  const listed = parseCorsOrigins('https://app.example,https://admin.example');
  it('echoes a listed origin with credentials and Vary: Origin', () => {
    expect(corsHeaders(listed, 'https://app.example')).toEqual({
      'Access-Control-Allow-Origin': 'https://app.example',
      'Access-Control-Allow-Credentials': 'true',
      'Access-Control-Expose-Headers': 'Idempotent-Replayed, Retry-After',
      Vary: 'Origin',
    });
  });
  it.each([undefined, 'https://evil.example', 'https://app.example.evil', 'http://app.example', 'null'])('grants nothing to %j', (origin) => {
    expect(corsHeaders(listed, origin)).toEqual({ Vary: 'Origin' });
  });
  it('grants * without credentials', () => {
    const headers = corsHeaders(parseCorsOrigins('*'), 'https://any.example');
    expect(headers['Access-Control-Allow-Origin']).toBe('*');
    expect(headers).not.toHaveProperty('Access-Control-Allow-Credentials');
  });
  it('adds nothing when CORS_ORIGINS is unset', () => {
    expect(corsHeaders(parseCorsOrigins(undefined), 'https://app.example')).toEqual({});
  });
});
