/**
 * The protocol between the edge Worker, which holds a subscriber's SSE stream, and the
 * channel's Durable Object, which holds one hibernatable WebSocket per subscriber. Pure
 * functions: nothing here knows about sockets or storage.
 *
 * Every request and message carries {@link PROTOCOL_VERSION}. During a deploy an old
 * Worker may meet a new object or the reverse: whatever one side does not understand, it
 * refuses in a way the other takes as "reconnect" (an attach answered with anything but
 * a 101 of this version; a socket closed with {@link CLOSE_PROTOCOL}).
 *
 * The object → Worker messages are binary, so the SSE bytes that the object encoded once
 * per publish go to every subscriber's stream without being decoded or encoded again:
 *
 *   byte 0      protocol version
 *   byte 1      kind: 1 live events, 2 replay (more to come on request), 3 replay caught
 *               up (the socket is live from here), 4 close (the channel was deleted)
 *   byte 2      flags: 1 = the payload starts with a `gap` event
 *   byte 3      0
 *   bytes 4–11  `after`: the id this message continues from (float64, big-endian)
 *   bytes 12–19 `last`: the cursor once this message is delivered (float64, big-endian)
 *   bytes 20–23 n, the number of publishes in a live message (uint32; 0 for other kinds)
 *   then n × uint32: the byte size of each publish's part of the payload, in order
 *   then        the SSE bytes, exactly as the subscriber gets them
 *
 * A live message carries the publishes of one coalescing window (channel.ts); their sizes
 * let the edge apply the slow-subscriber check before each publish, as docs/api.md says.
 *
 * The Worker → object messages are small JSON texts: `{"v":1,"type":"more"}` asks for the
 * next replay step; {@link PING} is answered by the runtime ({@link PONG}) without waking
 * the object (`setWebSocketAutoResponse`).
 *
 * A relay (relay.ts) speaks this same protocol twice: to the root as one of its sockets,
 * and to its own subscribers' Workers as if it were the channel. The root tells a Worker
 * to use a relay by answering an attach with {@link RELAY_STATUS} and the relay's key in
 * {@link RELAY_HEADER}; a relay tells the root how many subscribers it serves with
 * `{"v":1,"type":"count","n":<n>}`, a message only a relay's socket may send.
 */

import type { Region } from './region';
import { emptyRelayedStats, isEmpty, parseRelayedStats, type Opened, type RelayedStats } from './stats';

export const PROTOCOL_VERSION = 1;

/** The attach request's path and header; the answer's header names the version it speaks. */
export const ATTACH_URL = 'https://channel.herald/attach';
export const VERSION_HEADER = 'X-Herald-Protocol';
/** On a 101: the channel's last id, what a live-only stream's opening says. */
export const LAST_ID_HEADER = 'X-Herald-Last-Id';

/** A root's answer to an attach it does not serve itself: "go to the relay named in the header". */
export const RELAY_STATUS = 307;
export const RELAY_HEADER = 'X-Herald-Relay';
/** With a relay answer: how many relays the subscriber's region has (keys `<region>.0` up). */
export const RELAYS_HEADER = 'X-Herald-Relays';
/**
 * With a relay answer: for how many seconds the Worker may spread this channel's next
 * subscribers from the same region over those relays without asking the root.
 */
export const REMEMBER_HEADER = 'X-Herald-Remember';

/** Close code for a message the other side does not understand (4000–4999 are the application's). */
export const CLOSE_PROTOCOL = 4400;
/** Close code for a channel that was deleted: the stream ends. */
export const CLOSE_DELETED = 4410;
/** Close code from the edge for a subscriber cut off as too slow: the object counts it (`stats.cut`). */
export const CLOSE_TOO_SLOW = 4429;

export const PING = `{"v":${PROTOCOL_VERSION},"type":"ping"}`;
export const PONG = `{"v":${PROTOCOL_VERSION},"type":"pong"}`;
export const MORE = `{"v":${PROTOCOL_VERSION},"type":"more"}`;

const KINDS = ['events', 'replay', 'caught_up', 'close'] as const;
export type MessageKind = (typeof KINDS)[number];

/** One object → Worker message, decoded. `payload` is a view: no copy. */
export interface ChannelMessage {
  kind: MessageKind;
  gap: boolean;
  after: number;
  last: number;
  /** Live messages: the payload's bytes per publish, in order; empty for other kinds. */
  parts: number[];
  payload: Uint8Array;
}

/** A decoded message with the bytes it came in, which a relay forwards as they are. */
export interface ReceivedMessage extends ChannelMessage {
  wire: ArrayBuffer;
}

export type Decoded = ({ ok: true } & ReceivedMessage) | { ok: false; reason: string };

const HEADER_BYTES = 24;
const FLAG_GAP = 1;

/**
 * Who attaches, besides the cursor: a subscriber's Worker says where its subscriber is
 * (`region`, and `full`: a relay that just refused it); a relay says which one it is and
 * how many subscribers it serves; a Worker attaching to a relay names the channel and the
 * relay's key, which the relay takes as its identity. `opened`: this attach opens a
 * subscriber's stream (a re-attach says nothing), for the channel's counters.
 */
export type AttachParams =
  | { as: 'subscriber'; region?: string; full?: string; opened?: Opened }
  | { as: 'relay'; key: string; count: number }
  | { as: 'relayed'; channel: string; key: string; opened?: Opened };

/** The attach request for one that resumes after `after`, or is live only (null). */
export function attachUrl(after: number | null, params: AttachParams = { as: 'subscriber' }): string {
  const url = new URL(ATTACH_URL);
  url.searchParams.set('v', String(PROTOCOL_VERSION));
  if (after !== null) url.searchParams.set('after', String(after));
  for (const [name, value] of Object.entries(params)) {
    if (name !== 'as' && value !== undefined) url.searchParams.set(name, String(value));
  }
  if (params.as !== 'subscriber') url.searchParams.set('as', params.as);
  return url.toString();
}

/**
 * A relay's key: the region it was placed in and its number there, `weur.0`, `weur.1`…
 * Anything else in an attach is refused, so no request can make up a relay.
 */
export const RELAY_KEY = /^(wnam|enam|sam|weur|eeur|apac|oc|afr|me)\.(0|[1-9]\d{0,6})$/;

/** A relay key's region and number (the key already matched {@link RELAY_KEY}). */
export function parseRelayKey(key: string): { region: Region; index: number } {
  const dot = key.indexOf('.');
  return { region: key.slice(0, dot) as Region, index: Number(key.slice(dot + 1)) };
}

/** A message whose payload is `chunks` joined; for a live message, one chunk per publish. */
export function encodeMessage(message: Omit<ChannelMessage, 'payload' | 'parts'>, chunks: readonly Uint8Array[]): ArrayBuffer {
  const parts = message.kind === 'events' ? chunks.length : 0;
  const start = HEADER_BYTES + 4 * parts;
  const bytes = new Uint8Array(start + chunks.reduce((n, c) => n + c.byteLength, 0));
  const view = new DataView(bytes.buffer);
  bytes[0] = PROTOCOL_VERSION;
  bytes[1] = KINDS.indexOf(message.kind) + 1;
  bytes[2] = message.gap ? FLAG_GAP : 0;
  view.setFloat64(4, message.after);
  view.setFloat64(12, message.last);
  view.setUint32(20, parts);
  let at = start;
  chunks.forEach((chunk, i) => {
    if (parts > 0) view.setUint32(HEADER_BYTES + 4 * i, chunk.byteLength);
    bytes.set(chunk, at);
    at += chunk.byteLength;
  });
  return bytes.buffer;
}

export function decodeMessage(data: ArrayBuffer): Decoded {
  if (data.byteLength < HEADER_BYTES) return { ok: false, reason: `a message of ${data.byteLength} bytes is too short` };
  const view = new DataView(data);
  const version = view.getUint8(0);
  if (version !== PROTOCOL_VERSION) return { ok: false, reason: `protocol version ${version}, this side speaks ${PROTOCOL_VERSION}` };
  const kind = KINDS[view.getUint8(1) - 1];
  if (kind === undefined) return { ok: false, reason: `unknown message kind ${view.getUint8(1)}` };
  const after = view.getFloat64(4);
  const last = view.getFloat64(12);
  if (!isId(after) || !isId(last)) return { ok: false, reason: 'ids must be whole numbers ≥ 0' };
  const count = view.getUint32(20);
  const start = HEADER_BYTES + 4 * count;
  if ((kind === 'events') !== count > 0 || start > data.byteLength) return { ok: false, reason: `${count} parts in a ${kind} message` };
  const parts: number[] = [];
  let total = 0;
  for (let i = 0; i < count; i++) total += parts[i] = view.getUint32(HEADER_BYTES + 4 * i);
  if (count > 0 && total !== data.byteLength - start) return { ok: false, reason: 'the parts do not add up to the payload' };
  return { ok: true, kind, gap: (view.getUint8(2) & FLAG_GAP) !== 0, after, last, parts, payload: new Uint8Array(data, start), wire: data };
}

const isId = (n: number) => Number.isSafeInteger(n) && n >= 0;

/** A relay's report: its subscriber count, and what it counted since its last report (stats.ts). */
export function countMessage(n: number, stats: RelayedStats = emptyRelayedStats()): string {
  return JSON.stringify({ v: PROTOCOL_VERSION, type: 'count', n, ...(isEmpty(stats) ? {} : { stats }) });
}

export type ObjectRequest = { type: 'more' } | { type: 'count'; n: number; stats: RelayedStats };

/** A text message to an object, validated: `more` from anyone, `count` (whether it may come is the object's call). */
export function parseRequest(message: string | ArrayBuffer): ({ ok: true } & ObjectRequest) | { ok: false; reason: string } {
  if (typeof message !== 'string') return { ok: false, reason: 'binary messages are not accepted' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { ok: false, reason: 'not a message object' };
  const { v, type, n, stats } = parsed as { v?: unknown; type?: unknown; n?: unknown; stats?: unknown };
  if (v !== PROTOCOL_VERSION) return { ok: false, reason: `protocol version ${String(v)}, this side speaks ${PROTOCOL_VERSION}` };
  if (type === 'more') return { ok: true, type };
  if (type === 'count') {
    if (typeof n !== 'number' || !isId(n)) return { ok: false, reason: 'a count must be a whole number ≥ 0' };
    const counted = stats === undefined ? emptyRelayedStats() : parseRelayedStats(stats);
    return counted ? { ok: true, type, n, stats: counted } : { ok: false, reason: 'stats must be relayed counters, each a whole number ≥ 0' };
  }
  return { ok: false, reason: `unknown message type ${JSON.stringify(type)}` };
}
