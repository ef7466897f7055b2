/**
 * Signed webhooks (docs/api.md, "Webhooks"): GitHub's `X-Hub-Signature-256` and Standard
 * Webhooks (standardwebhooks.com), checked against the channel's own secret
 * (webhook-secret.ts). Signatures are compared in constant time.
 */
import { concat } from './bytes';
import { HubError } from './errors';

/** Standard Webhooks refuses timestamps further than this from now (5 minutes). */
export const TIMESTAMP_TOLERANCE_SECONDS = 5 * 60;
/** Signatures checked in one `webhook-signature` header: enough for key rotation, and a
 * bound on the work an unsigned request can cause. */
export const MAX_SIGNATURES = 5;

/** What a verified delivery tells about the event, from the provider's headers. */
export interface Delivery {
  /** The event name the provider gives (GitHub's X-GitHub-Event), if any. */
  event: string | undefined;
  /** The provider's delivery id: a retry of the same delivery carries it again. */
  idempotencyKey: string | undefined;
}

const encoder = new TextEncoder();
const CHALLENGE = { 'WWW-Authenticate': 'HMAC realm="herald"' };
/** Where a sender gets the secret a refusal talks about. */
const HOW_TO_GET = '(each channel has its own: npm run webhook-secret -- <channel>)';

function refuse(message: string): never {
  throw new HubError('invalid_signature', message, CHALLENGE);
}

function hmacKey(raw: Uint8Array, use: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, [use]);
}

function hexBytes(hex: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return undefined;
  return Uint8Array.from(hex.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

function base64Bytes(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * Checks the delivery's signature against `secret`, the channel's `whsec_…` secret, and
 * returns what its headers say. `now` is in seconds since the epoch. Throws
 * `401 invalid_signature` saying what failed.
 */
export async function verifyDelivery(headers: Headers, body: Uint8Array, secret: string, now: number): Promise<Delivery> {
  const github = headers.get('X-Hub-Signature-256');
  if (github !== null) {
    const signature = github.startsWith('sha256=') ? hexBytes(github.slice(7)) : undefined;
    if (!signature) refuse('X-Hub-Signature-256 must be sha256=<64 hex digits>.');
    // GitHub keys the HMAC with the secret string as configured.
    if (!(await crypto.subtle.verify('HMAC', await hmacKey(encoder.encode(secret), 'verify'), signature, body))) {
      refuse(`X-Hub-Signature-256 does not match the body and this channel's webhook secret ${HOW_TO_GET}.`);
    }
    return {
      event: headers.get('X-GitHub-Event') ?? undefined,
      idempotencyKey: headers.get('X-GitHub-Delivery') ?? undefined,
    };
  }

  const signatures = headers.get('webhook-signature');
  if (signatures !== null) {
    const id = headers.get('webhook-id');
    const timestamp = headers.get('webhook-timestamp');
    if (!id || !timestamp) refuse('Standard Webhooks need webhook-id and webhook-timestamp with webhook-signature.');
    const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : NaN;
    if (!(Math.abs(now - seconds) <= TIMESTAMP_TOLERANCE_SECONDS)) {
      refuse('webhook-timestamp is more than 5 minutes from now: a stale or replayed delivery.');
    }
    // Standard Webhooks secrets are `whsec_<base64 key>`; the key is the decoded part.
    const key = secret.startsWith('whsec_') ? base64Bytes(secret.slice(6)) : undefined;
    if (!key || key.byteLength === 0) throw new Error('A channel webhook secret is whsec_<base64>, always.');
    const entries = signatures.split(' ').filter(Boolean);
    if (entries.length > MAX_SIGNATURES) refuse(`webhook-signature lists more than ${MAX_SIGNATURES} signatures.`);
    // One MAC, computed once; each listed signature is compared with it in constant time.
    const expected = await crypto.subtle.sign('HMAC', await hmacKey(key, 'sign'), concat([encoder.encode(`${id}.${timestamp}.`), body]));
    // The header may list several signatures (key rotation): one match suffices.
    for (const entry of entries) {
      const [version, value] = entry.split(',', 2);
      const signature = version === 'v1' && value !== undefined ? base64Bytes(value) : undefined;
      if (signature && signature.byteLength === expected.byteLength && crypto.subtle.timingSafeEqual(signature, expected)) {
        return { event: undefined, idempotencyKey: id };
      }
    }
    refuse(`No v1 signature in webhook-signature matches the body and this channel's webhook secret ${HOW_TO_GET}.`);
  }

  refuse('The request is not signed: send X-Hub-Signature-256 (GitHub) or webhook-signature (Standard Webhooks).');
}
