/**
 * CORS (docs/api.md, "Auth"): `CORS_ORIGINS` is a comma-separated list of origins, or `*`.
 * A listed origin is echoed with `Access-Control-Allow-Credentials: true` (EventSource
 * `withCredentials` sends the `herald_token` cookie); `*` grants every origin but never
 * with credentials, which browsers would refuse anyway. Any other origin gets no grant.
 *
 * Hono's `cors()` sends Allow-Credentials to origins it does not grant and takes one
 * credentials setting for all origins, so this small middleware does it instead.
 */
import type { MiddlewareHandler } from 'hono';

export type CorsPolicy = { kind: 'none' } | { kind: 'any' } | { kind: 'listed'; origins: ReadonlySet<string> };

const ALLOW_METHODS = 'GET, POST, DELETE';
const ALLOW_HEADERS = 'Authorization, Content-Type, Idempotency-Key, Last-Event-ID';
const EXPOSE_HEADERS = 'Idempotent-Replayed, Retry-After';
/** How long a browser may cache a preflight answer (one day). */
const PREFLIGHT_MAX_AGE_SECONDS = 86_400;

/** Reads CORS_ORIGINS; origins are compared exactly as browsers send them (scheme://host[:port]). */
export function parseCorsOrigins(value: string | undefined): CorsPolicy {
  const entries = (value ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  if (entries.length === 0) return { kind: 'none' };
  if (entries.includes('*')) return { kind: 'any' };
  return { kind: 'listed', origins: new Set(entries.map((o) => o.replace(/\/+$/, ''))) };
}

/** The CORS response headers for a request from `origin` under `policy`. */
export function corsHeaders(policy: CorsPolicy, origin: string | undefined): Record<string, string> {
  switch (policy.kind) {
    case 'none':
      return {};
    case 'any':
      return { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': EXPOSE_HEADERS };
    case 'listed':
      // Vary even when refusing: a cache must not hand one origin's answer to another.
      if (origin === undefined || !policy.origins.has(origin)) return { Vary: 'Origin' };
      return {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Credentials': 'true',
        'Access-Control-Expose-Headers': EXPOSE_HEADERS,
        Vary: 'Origin',
      };
  }
}

/** Answers preflights and adds the grant to every response, errors included. */
export function cors(policyOf: (c: Parameters<MiddlewareHandler>[0]) => CorsPolicy): MiddlewareHandler {
  return async (c, next) => {
    const policy = policyOf(c);
    const headers = corsHeaders(policy, c.req.header('Origin'));
    if (c.req.method === 'OPTIONS' && c.req.header('Access-Control-Request-Method') !== undefined) {
      const granted = 'Access-Control-Allow-Origin' in headers;
      return new Response(null, {
        status: 204,
        headers: granted
          ? {
              ...headers,
              'Access-Control-Allow-Methods': ALLOW_METHODS,
              'Access-Control-Allow-Headers': ALLOW_HEADERS,
              'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE_SECONDS),
            }
          : headers,
      });
    }
    await next();
    if (Object.keys(headers).length === 0) return;
    // A Durable Object's streaming response has immutable headers: re-wrap it (the body
    // stream is passed on, not copied).
    const res = new Response(c.res.body, c.res);
    for (const [name, value] of Object.entries(headers)) {
      if (name === 'Vary') res.headers.append(name, value);
      else res.headers.set(name, value);
    }
    c.res = res;
  };
}
