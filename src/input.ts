/**
 * Validation of what a request names: channels, event names, event ids, idempotency
 * keys, limits. Each check rejects with the docs/api.md error code rather than sanitising:
 * a CR, LF or NUL in a name would otherwise inject SSE fields.
 */
import { HubError } from './errors';

const CHANNEL = /^[A-Za-z0-9_\-.:~@]{1,128}$/;
const EVENT_NAME = /^[A-Za-z0-9_\-.:]{1,64}$/;
const EVENT_ID = /^\d{1,16}$/;
// Printable ASCII, space included (docs/api.md, "Idempotency").
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,200}$/;
/** The hub's own event types: a publisher may not fake them. */
const RESERVED_EVENTS: ReadonlySet<string> = new Set(['gap', 'close']);

/** Largest page of the JSON history, and its default size. */
export const HISTORY_MAX_LIMIT = 1000;
export const HISTORY_DEFAULT_LIMIT = 100;

export function parseChannel(name: string): string {
  if (!CHANNEL.test(name)) {
    throw new HubError('invalid_channel', 'A channel name is 1–128 characters from A–Z a–z 0–9 _ - . : ~ @.');
  }
  return name;
}

export function parseEventName(name: string): string {
  if (!EVENT_NAME.test(name)) {
    throw new HubError('invalid_event', 'An event name is 1–64 characters from A–Z a–z 0–9 _ - . :.');
  }
  if (RESERVED_EVENTS.has(name)) {
    throw new HubError('invalid_event', `The event name '${name}' is reserved for the hub; choose another.`);
  }
  return name;
}

/** A decimal event id as sent in `Last-Event-ID`, `lastEventId` or `after`. */
export function parseEventId(text: string, what: string): number {
  const id = EVENT_ID.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new HubError('invalid_last_event_id', `${what} must be a decimal event id such as 42, got '${clip(text)}'.`);
  }
  return id;
}

/**
 * Where a stream resumes: the `Last-Event-ID` header (sent by EventSource on
 * reconnect) wins over the `lastEventId` query parameter; null means live only.
 */
export function resumePoint(header: string | undefined, query: string | undefined): number | null {
  if (header !== undefined) return parseEventId(header.trim(), 'The Last-Event-ID header');
  if (query !== undefined) return parseEventId(query, 'The lastEventId parameter');
  return null;
}

export function parseLimit(text: string | undefined): number {
  if (text === undefined) return HISTORY_DEFAULT_LIMIT;
  const limit = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= HISTORY_MAX_LIMIT)) {
    throw new HubError('invalid_limit', `limit must be a whole number from 1 to ${HISTORY_MAX_LIMIT}, got '${clip(text)}'.`);
  }
  return limit;
}

export function parseIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new HubError('invalid_idempotency_key', 'An Idempotency-Key is 1–200 printable ASCII characters.');
  }
  return key;
}

/** Echoes at most a short, printable piece of what a client sent. */
function clip(text: string): string {
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 40 ? `${printable.slice(0, 40)}…` : printable;
}
