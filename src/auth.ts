/**
 * Publish rights (API.md, "Auth"): `Authorization: Bearer <PUBLISH_KEY>`, compared in
 * constant time. A hub without a key refuses to publish: it fails closed.
 */
import { HeraldError } from './errors';

const encoder = new TextEncoder();

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i);
  return match?.[1];
}

/** Hashing both sides first gives equal lengths, so the comparison leaks neither length nor content. */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(given)),
    crypto.subtle.digest('SHA-256', encoder.encode(expected)),
  ]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Throws unless the request carries the publish key; 503 when no key is configured. */
export async function requirePublishKey(authorization: string | undefined, publishKey: string | undefined): Promise<void> {
  if (publishKey === undefined) {
    throw new HeraldError(
      'auth_not_configured',
      'This hub has no PUBLISH_KEY, so it accepts no publisher. Set one with `wrangler secret put PUBLISH_KEY`.',
    );
  }
  const token = bearerToken(authorization);
  if (token === undefined || !(await sameSecret(token, publishKey))) {
    throw new HeraldError(
      'unauthorized',
      token === undefined
        ? 'Send the publish key as `Authorization: Bearer <PUBLISH_KEY>`.'
        : 'The bearer token is not this hub\'s publish key.',
      { 'WWW-Authenticate': 'Bearer realm="herald"' },
    );
  }
}
