/**
 * The SSE wire format (WHATWG HTML, "Server-sent events"), as pure functions from
 * events to bytes: every byte Herald writes to a stream, a single channel's and a merged
 * multi-channel one's, is framed here. Nothing here knows about streams or storage.
 */

/**
 * One event as it goes on the wire. `event` is `"message"` for the default type; `id` is
 * a channel's id, or a merged stream's cursor (`4.9`).
 */
export interface WireEvent {
  id: number | string;
  event: string;
  data: string;
}

const encoder = new TextEncoder();

/** The headers of every event stream (docs/api.md, "Subscribe"). */
export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  // no-transform keeps proxies (and Cloudflare) from compressing or buffering the stream.
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
} as const;

/**
 * Any of CRLF, CR or LF ends a line for an SSE parser, so each one starts a new
 * `data:` line; a parser rebuilds the payload with `\n` between lines. Splitting on
 * all three is what keeps a payload from adding a field or an event.
 */
const LINE_BREAK = /\r\n|\r|\n/;

/** Frames one event: `id:`, `event:` (omitted for "message"), one `data:` per line, blank line. */
export function encodeEventText({ id, event, data }: WireEvent): string {
  let frame = `id: ${id}\n`;
  if (event !== 'message') frame += `event: ${event}\n`;
  for (const line of data.split(LINE_BREAK)) frame += `data: ${line}\n`;
  return `${frame}\n`;
}

/** {@link encodeEventText} as UTF-8 bytes, encoded once and shared by every subscriber. */
export function encodeEvent(event: WireEvent): Uint8Array {
  return encoder.encode(encodeEventText(event));
}

/** Several events as one chunk: a batch is queued to each subscriber in one piece. */
export function encodeEvents(events: readonly WireEvent[]): Uint8Array {
  return encoder.encode(events.map(encodeEventText).join(''));
}

/**
 * The first bytes of every stream: the reconnection delay and a comment, so that
 * `EventSource.onopen` fires before the first event (docs/api.md, "Retry").
 *
 * A live-only stream also carries `id:` with the channel's last id (0 before any), in
 * the same block: with no data it dispatches no event, but it sets the client's last
 * event id (WHATWG HTML, "dispatch the event", step 1). A client cut off before its
 * first event then reconnects with `Last-Event-ID` and misses nothing.
 */
export function encodeOpening(retryMs: number, liveFrom: number | null): Uint8Array {
  return encoder.encode(openingText(retryMs, liveFrom));
}

function openingText(retryMs: number, id: number | string | null): string {
  return `retry: ${retryMs}\n${id === null ? '' : `id: ${id}\n`}: connected\n\n`;
}

/**
 * An event the hub writes itself (`gap`, `close`): no `id:`, so the client's last event
 * id stays the one it really has; a `data:` line, since EventSource dispatches nothing
 * without data.
 */
function noticeText(event: 'gap' | 'close', fields: object): string {
  return `event: ${event}\ndata: ${JSON.stringify(fields)}\n\n`;
}

/** The keep-alive comment written to a stream that has been silent (docs/api.md, "Heartbeat"). */
export const HEARTBEAT: Uint8Array = encoder.encode(': heartbeat\n\n');

/** What the `gap` event carries: the id asked for and the retained range, ids as strings. */
export interface Gap {
  lastEventId: number;
  oldestId: number | null;
  latestId: number | null;
}

/** Ids travel as decimal strings in JSON (docs/api.md), null where there is none. */
export const idText = (id: number | null): string | null => (id === null ? null : String(id));

/** The hub's own `gap` event: until a replayed event moves it on, the client's last id stays. */
export function encodeGap({ lastEventId, oldestId, latestId }: Gap): Uint8Array {
  return encoder.encode(noticeText('gap', { lastEventId: String(lastEventId), oldestId: idText(oldestId), latestId: idText(latestId) }));
}

/** The hub's own `close` event, written before a deleted channel's streams end. */
export function encodeClose(reason: 'deleted'): Uint8Array {
  return encoder.encode(noticeText('close', { reason }));
}

// A merged multi-channel stream (docs/api.md, "Multi-channel subscribe"): each channel's
// event with its channel, the cursor of every channel as id; notices say their channel.

/** One channel's event in a merged stream: data is `{"channel","id","data"}`, id the cursor. */
export function encodeMergedEvent(cursor: string, channel: string, { id, event, data }: WireEvent): string {
  return encodeEventText({ id: cursor, event, data: JSON.stringify({ channel, id: String(id), data }) });
}

/** A channel's `gap` or `close` in a merged stream: its fields (JSON text) with the channel first. */
export function encodeChannelNotice(event: 'gap' | 'close', channel: string, data: string): string {
  return noticeText(event, { channel, ...(JSON.parse(data) as object) });
}

/** The merged stream's opening: the cursor before its first event, and the channels already deleted. */
export function encodeMergedOpening(retryMs: number, cursor: string, deleted: readonly string[]): Uint8Array {
  return encoder.encode(openingText(retryMs, cursor) + deleted.map((channel) => noticeText('close', { channel, reason: 'deleted' })).join(''));
}

/** Why a subscribe was answered with a wait instead of a stream (docs/api.md, "Busy hub"). */
export type WaitReason = 'channel_full' | 'unavailable';

/** How long a client waits before it tries a full channel again (was `Retry-After: 10`). */
export const FULL_RETRY_MS = 10_000;
/** The shortest wait before trying a channel whose object was unavailable; the edge adds up to as much again as jitter. */
export const UNAVAILABLE_RETRY_MS = 1000;

/**
 * A whole stream that says only "come back in `ms`": EventSource gives up for good on any
 * answer but a 200 event stream, so a busy or restarting hub answers this and ends; the
 * client reconnects by itself, with its Last-Event-ID. Without a reason, it is the end of
 * a recycled stream (STREAM_MAX_SECONDS).
 */
export function encodeRetryOnly(ms: number, reason?: WaitReason): Uint8Array {
  return encoder.encode(reason === undefined ? `retry: ${ms}\n\n` : `retry: ${ms}\n: ${reason}\n\n`);
}
