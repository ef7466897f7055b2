/**
 * Who may do what (docs/api.md, "Auth"). PUBLISH_KEY may do anything; a JWT may do what its
 * patterns grant; anyone may subscribe to a channel that is not `private-`. Missing or
 * bad credentials get 401, valid ones without the right 403, and a hub without the
 * secret that would decide answers 503 saying which secret to set: it fails closed.
 */
import { HubError } from './errors';
import { allows, looksLikeJwt, verifyToken, type Right } from './jwt';

const encoder = new TextEncoder();

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer[ \t]+(\S+)[ \t]*$/i);
  return match?.[1];
}

/** Hashing both sides first gives equal lengths, so the comparison leaks neither length nor content. */
export async function sameSecret(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([crypto.subtle.digest('SHA-256', encoder.encode(given)), crypto.subtle.digest('SHA-256', encoder.encode(expected))]);
  return crypto.subtle.timingSafeEqual(a, b);
}

/** Channels whose name starts with this need a subscribe token. */
export const PRIVATE_PREFIX = 'private-';

export interface Secrets {
  publishKey: string | undefined;
  jwtSecret: string | undefined;
}

export interface AccessRequest {
  channel: string;
  right: Right;
  /** The credential the request carries, from wherever this right reads it; undefined if none. */
  token: string | undefined;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="herald"' };

export function isPrivate(channel: string): boolean {
  return channel.startsWith(PRIVATE_PREFIX);
}

/** Resolves when the request may do what it asks; throws the HubError to answer otherwise. */
export async function authorize({ channel, right, token }: AccessRequest, secrets: Secrets): Promise<void> {
  if (right === 'subscribe' && !isPrivate(channel)) return;
  if (secrets.publishKey === undefined && secrets.jwtSecret === undefined) {
    throw new HubError(
      'auth_not_configured',
      right === 'publish'
        ? 'This hub has no PUBLISH_KEY or JWT_SECRET, so it accepts no publisher. Set one with `wrangler secret put PUBLISH_KEY`.'
        : 'This hub has no JWT_SECRET, so nobody can subscribe to private channels. Set it with `wrangler secret put JWT_SECRET`.',
    );
  }
  if (token === undefined) {
    const how =
      right === 'publish'
        ? 'Send `Authorization: Bearer <PUBLISH_KEY or token>`.'
        : 'Private channels need a token: `Authorization: Bearer`, the `token` parameter or the `herald_token` cookie.';
    throw new HubError('unauthorized', how, CHALLENGE);
  }
  if (secrets.publishKey !== undefined && (await sameSecret(token, secrets.publishKey))) return;
  if (!looksLikeJwt(token)) {
    throw new HubError('unauthorized', "The credential is neither this hub's publish key nor a token.", CHALLENGE);
  }
  if (secrets.jwtSecret === undefined) {
    throw new HubError('invalid_token', 'This hub has no JWT_SECRET, so it accepts no tokens. Set it with `wrangler secret put JWT_SECRET`.', CHALLENGE);
  }
  const grants = await verifyToken(token, secrets.jwtSecret);
  if (!allows(grants, right, channel)) {
    throw new HubError('forbidden', `The token does not allow ${right === 'publish' ? 'publishing to' : 'subscribing to'} '${channel}'.`);
  }
}

/**
 * A subscriber's credential: `Authorization: Bearer`, then the `token` parameter, then
 * the `herald_token` cookie; the first one present is the one checked (docs/api.md), since
 * EventSource can send neither headers nor anything but cookies and the URL.
 */
export function subscriberToken(sources: { bearer: string | undefined; query: string | undefined; cookie: string | undefined }): string | undefined {
  return sources.bearer ?? sources.query ?? sources.cookie;
}
