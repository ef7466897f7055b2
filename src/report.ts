/**
 * Herald's structured logs: one JSON line per notable event, for Workers Logs (which
 * indexes the fields of a JSON line) and `wrangler tail` (docs/operations.md, "Logs").
 * Each event carries only the fields its type names here: channel names, routes, codes,
 * counts, Herald's own messages and, for an internal error, the error's message and stack.
 * Never a credential: no header, token, signature or secret is passed in, so none can be
 * written out (the token and signature checks turn their own failures into HubErrors with
 * Herald's messages, so no credential reaches an internal error either).
 */
import type { ErrorCode } from './errors';

export type Notable =
  /** A subscriber's stream was cut off as too slow (docs/api.md, "Slow subscribers"). */
  | { event: 'subscriber_cut'; route: string; channels: string[]; unsentBytes: number; openSeconds: number }
  | { event: 'channel_deleted'; channel: string }
  /** A webhook answered with an error; `message` is what the sender was told. */
  | { event: 'webhook_refused'; channel: string; code: ErrorCode; status: number; message: string }
  /** A 401 or 403 on any other route. */
  | { event: 'auth_refused'; route: string; channel: string; code: ErrorCode; status: number }
  /** A var with a bad value: every request answers 500 until it is fixed. */
  | { event: 'config_error'; message: string }
  /** A 500 `internal_error`: the failure the response does not tell (docs/api.md, "Errors"). */
  | { event: 'internal_error'; route: string; code: 'internal_error'; error: string; stack: string | undefined };

type Level = 'info' | 'warn' | 'error';

const LEVELS: Record<Notable['event'], Level> = {
  subscriber_cut: 'warn',
  channel_deleted: 'info',
  webhook_refused: 'warn',
  auth_refused: 'warn',
  config_error: 'error',
  internal_error: 'error',
};

/** The log line for `notable`, its level first. Pure. */
export function logLine(notable: Notable): string {
  return JSON.stringify({ level: LEVELS[notable.event], ...notable });
}

/** Writes `notable` as one line, with the console method of its level (Workers Logs keeps it). */
export function report(notable: Notable): void {
  const line = logLine(notable);
  const level = LEVELS[notable.event];
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

/** Config errors already reported by this isolate: a bad var fails every request, but says so once. */
const configErrors = new Set<string>();

/** Reports a config error the first time this isolate meets it. */
export function reportConfigError(message: string): void {
  if (configErrors.has(message)) return;
  configErrors.add(message);
  report({ event: 'config_error', message });
}
