/**
 * Herald's scoped tokens (docs/api.md, "Auth"): HS256 JWTs signed with JWT_SECRET whose claim
 * `herald` is `{"publish":[patterns],"subscribe":[patterns]}`. Verification is Hono's
 * (`hono/jwt`), with the algorithm pinned to HS256 so that `alg: none` or any other
 * algorithm is refused, and `exp`/`nbf` enforced. A token without `exp` does not expire:
 * that is the minting side's choice (`npm run token` always sets one).
 */
import { verify } from 'hono/jwt';
import { JwtTokenExpired, JwtTokenNotBefore } from 'hono/utils/jwt/types';
import { HubError } from './errors';

export type Right = 'publish' | 'subscribe';

/** The channel patterns a token grants, per right. */
export type Grants = Readonly<Record<Right, readonly string[]>>;

/** True when `token` has the shape of a JWT (three base64url parts), so it is checked as one. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/**
 * `*` matches any run of characters (also none); every other character matches itself.
 * Channel names cannot contain `*`, so a pattern never has to escape one.
 */
export function channelMatches(pattern: string, channel: string): boolean {
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  if (parts.length === 1) return pattern === channel;
  const last = parts[parts.length - 1] ?? '';
  if (!channel.startsWith(first) || channel.length < first.length + last.length || !channel.endsWith(last)) return false;
  let at = first.length;
  const end = channel.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = channel.indexOf(middle, at);
    if (found === -1 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

export function allows(grants: Grants, right: Right, channel: string): boolean {
  return grants[right].some((pattern) => channelMatches(pattern, channel));
}

/** Verifies `token` and reads its grants; throws `401 invalid_token` saying why not. */
export async function verifyToken(token: string, secret: string): Promise<Grants> {
  let payload: Record<string, unknown>;
  try {
    // `iat` is informational: a minting backend whose clock runs a second ahead must not
    // produce tokens that fail (and stop EventSource for good).
    payload = await verify(token, secret, { alg: 'HS256', iat: false });
  } catch (err) {
    const why =
      err instanceof JwtTokenExpired
        ? 'The token has expired (exp); get a new one.'
        : err instanceof JwtTokenNotBefore
          ? 'The token is not valid yet (nbf).'
          : "The token is not an HS256 JWT signed with this hub's JWT_SECRET.";
    throw new HubError('invalid_token', why, { 'WWW-Authenticate': 'Bearer realm="herald", error="invalid_token"' });
  }
  return readGrants(payload.herald);
}

function readGrants(claim: unknown): Grants {
  const patterns = (value: unknown): string[] => {
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((p): p is string => typeof p === 'string')) {
      throw new HubError('invalid_token', 'The token\'s "herald" claim must hold lists of channel patterns.');
    }
    return value;
  };
  // No claim grants nothing, as an empty one does: a valid credential, so 403, not 401.
  if (claim === undefined) return { publish: [], subscribe: [] };
  if (typeof claim !== 'object' || claim === null) {
    throw new HubError('invalid_token', 'The token\'s "herald" claim must be {"publish":[…],"subscribe":[…]}.');
  }
  const { publish, subscribe } = claim as Record<string, unknown>;
  return { publish: patterns(publish), subscribe: patterns(subscribe) };
}
