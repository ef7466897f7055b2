/**
 * `publish()`: a batch of events to one channel (docs/api.md, "Publish"), retried safely. Every
 * attempt carries the same Idempotency-Key, so a retry after a lost response gets the
 * first attempt's ids back instead of storing the events twice.
 */
import { backoffDelay, resolveBackoff, type BackoffOptions } from './backoff.ts';
import { delay } from './delay.ts';
import { HeraldError, asError, isRetryableStatus, parseError, retryAfterMs } from './errors.ts';
import { platformFetch, type Fetch } from './fetch.ts';
import { channelEventsUrl } from './urls.ts';

/** One event to publish: a string `data` is sent as is, any other JSON value as its compact JSON text. */
export interface PublishEvent {
  /** Its name (docs/api.md: 1–64 of `A–Z a–z 0–9 _ - . :`, not `gap` or `close`); default `message`. */
  event?: string;
  data: unknown;
}

export interface PublishOptions {
  channel: string;
  /** Makes the publish safe to repeat, also across calls (docs/api.md, "Idempotency"). Default: a random key, the same for every retry of this call. */
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** Retries after the first attempt, for network errors, 5xx, 408 and 429; never for another 4xx. Default 3. */
  retries?: number;
  /** Delays between attempts; defaults 500 ms, ×2, at most 10 s (or what `Retry-After` asks). */
  backoff?: BackoffOptions;
  /** Replaces the platform's fetch (tests, proxies). */
  fetch?: Fetch;
}

/** The hub's 201 answer, and how it was reached. */
export interface PublishResult {
  channel: string;
  /** The events' ids, in the order given. */
  ids: string[];
  /** Subscribers the events went to live. */
  subscribers: number;
  /** True when the hub answered from an earlier publish with this key (`Idempotent-Replayed: true`). */
  replayed: boolean;
  /** The key sent: repeat the call with it to learn the outcome of one that failed. */
  idempotencyKey: string;
}

const DEFAULT_RETRIES = 3;
const PUBLISH_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000 };

/** 128 random bits as hex: getRandomValues, unlike randomUUID, also exists on pages served without HTTPS. */
function randomKey(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');
}

type Ack = Pick<PublishResult, 'channel' | 'ids' | 'subscribers'>;

function parseAck(text: string): Ack | undefined {
  try {
    const ack = JSON.parse(text) as Partial<Record<keyof Ack, unknown>> | null;
    if (typeof ack?.channel === 'string' && Array.isArray(ack.ids) && ack.ids.every((id) => typeof id === 'string') && typeof ack.subscribers === 'number') {
      return { channel: ack.channel, ids: ack.ids as string[], subscribers: ack.subscribers };
    }
  } catch {
    // Not JSON: reported below as a body that breaks the contract.
  }
  return undefined;
}

type Attempt = { type: 'done'; result: PublishResult } | { type: 'failed'; error: Error; retryable: boolean; retryAfterMs?: number | undefined };

/**
 * Publishes `events` to `options.channel`, all or none, and resolves with the hub's
 * answer; rejects with a HeraldError for an error answer, the network error once the
 * retries are spent, or the signal's reason when it aborts.
 *
 * @param url the hub's base URL.
 * @param key the publish key or a token with the publish right, sent as `Authorization: Bearer`.
 */
export async function publish(url: string, key: string, events: readonly PublishEvent[], options: PublishOptions): Promise<PublishResult> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  if (!Number.isInteger(retries) || retries < 0) throw new RangeError(`publish(): retries must be a whole number ≥ 0, got ${retries}.`);
  const backoff = resolveBackoff({ ...PUBLISH_BACKOFF, ...options.backoff });
  const signal = options.signal ?? new AbortController().signal;
  const idempotencyKey = options.idempotencyKey ?? randomKey();
  const target = channelEventsUrl(url, options.channel).href;
  const body = JSON.stringify({ events });
  const fetch = options.fetch ?? platformFetch;

  const attempt = async (): Promise<Attempt> => {
    const headers = new Headers({ Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey });
    let res: Response;
    let text: string;
    try {
      res = await fetch(target, { method: 'POST', headers, body, signal });
      // Read inside the try: a response lost halfway is a network error like any other.
      text = await res.text();
    } catch (thrown) {
      if (signal.aborted) throw signal.reason;
      return { type: 'failed', error: asError(thrown), retryable: true };
    }
    if (res.status !== 201) {
      return {
        type: 'failed',
        error: parseError(res.status, text),
        retryable: isRetryableStatus(res.status),
        retryAfterMs: retryAfterMs(res.headers.get('Retry-After')),
      };
    }
    const ack = parseAck(text);
    if (ack === undefined)
      throw new HeraldError(201, 'invalid_response', `A publish was answered 201 with a body that is not {channel, ids, subscribers}: ${text.slice(0, 200)}`);
    return { type: 'done', result: { ...ack, replayed: res.headers.get('Idempotent-Replayed') === 'true', idempotencyKey } };
  };

  for (let failures = 1; ; failures += 1) {
    const outcome = await attempt();
    if (outcome.type === 'done') return outcome.result;
    if (!outcome.retryable || failures > retries) throw outcome.error;
    const wait = Math.max(backoffDelay(failures, backoff.initialMs, backoff), outcome.retryAfterMs ?? 0);
    if (!(await delay(wait, signal))) throw signal.reason;
  }
}
