/**
 * How long to wait before trying again: capped, jittered exponential backoff whose base
 * is the server's `retry:` when it sent one (docs/api.md, "Retry"); and the wait a busy hub asks for.
 */

/** Backoff settings; every field is optional. */
export interface BackoffOptions {
  /** The base delay until the server sends `retry:`, in ms. Default 1000. */
  initialMs?: number;
  /** No delay is longer, unless the server's `retry:` asks for more. Default 30000. */
  maxMs?: number;
  /** Each consecutive failure multiplies the delay by this much. Default 2. */
  factor?: number;
}

export type Backoff = Required<BackoffOptions>;

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1000, maxMs: 30_000, factor: 2 };

/**
 * A `retry: 0` would make every delay 0, and a hub that fails at once would be asked
 * again in a tight loop.
 */
const MIN_BASE_MS = 100;

/** Merges `options` with the defaults; a value that is not a finite number in range throws a RangeError naming it. */
export function resolveBackoff(options: BackoffOptions = {}): Backoff {
  const backoff = { ...DEFAULT_BACKOFF, ...options };
  const check = (name: keyof Backoff, ok: boolean, rule: string) => {
    if (!ok) throw new RangeError(`backoff.${name} must be ${rule}, got ${String(backoff[name])}.`);
  };
  check('initialMs', Number.isFinite(backoff.initialMs) && backoff.initialMs >= 0, 'a number of ms ≥ 0');
  check('maxMs', Number.isFinite(backoff.maxMs) && backoff.maxMs >= backoff.initialMs, 'a number of ms ≥ initialMs');
  check('factor', Number.isFinite(backoff.factor) && backoff.factor >= 1, 'a number ≥ 1');
  return backoff;
}

/**
 * The delay before retry number `attempt` (1 after the first failure in a row): a random
 * point between base·factor^(attempt−1) and base·factor^attempt, both capped at `maxMs`.
 * The first retry waits at least the base, so a server's `retry:` is honoured, and the
 * jitter spreads the clients that one restart disconnected all at once. The cap never
 * cuts below the base: a server asking for a longer `retry:` than `maxMs` gets it.
 *
 * @param random a number in [0, 1): Math.random, or a fixed one in tests.
 */
export function backoffDelay(attempt: number, baseMs: number, { maxMs, factor }: Backoff, random: () => number = Math.random): number {
  const base = Math.max(baseMs, MIN_BASE_MS);
  const cap = Math.max(maxMs, base);
  const low = Math.min(cap, base * factor ** (attempt - 1));
  const high = Math.min(cap, low * factor);
  return Math.round(low + random() * (high - low));
}

/** A wait is lengthened by up to this fraction of itself. */
const WAIT_JITTER = 0.1;

/**
 * The delay after the hub answered a subscribe with a wait (`retry:` and `: channel_full`
 * or `: unavailable`, issue 8): what its `retry:` asks, plus up to a tenth more, so that
 * the subscribers a full channel turned away together do not all come back in the same
 * instant (the hub jitters `unavailable` itself, not `channel_full`). Neither grown nor
 * capped at `maxMs`: a wait is not a failure, and the hub said how long.
 *
 * @param random a number in [0, 1): Math.random, or a fixed one in tests.
 */
export function waitDelay(retryMs: number, random: () => number = Math.random): number {
  const base = Math.max(retryMs, MIN_BASE_MS);
  return Math.round(base + random() * base * WAIT_JITTER);
}
