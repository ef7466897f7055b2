/**
 * What the hub's SSE messages mean, as pure functions: an event, a `gap`, or a `close`,
 * from a one-channel stream (docs/api.md) or from a multi-channel one, whose events carry a
 * JSON envelope (docs/api.md). Both kinds come out the same shape. And the comment of a
 * stream that is only a wait (issue 8).
 */
import type { EventSourceMessage } from 'eventsource-parser';

/** What a subscription listens to. */
export type Target = { kind: 'channel'; channel: string } | { kind: 'channels'; channels: readonly string[] };

/** One published event, as a subscriber gets it from either kind of stream. */
export class HeraldEvent {
  /** The channel it was published to. */
  readonly channel: string;
  /** Its id in that channel: decimal, one more than the channel's previous event. */
  readonly id: string;
  /** Its name: `message` unless the publisher named it. */
  readonly event: string;
  /** The published data, as text (a JSON payload arrives as its compact JSON text). */
  readonly data: string;
  /**
   * The stream's `id:` for this event, i.e. what `Last-Event-ID` resumes from: the same
   * as `id` on one channel, the whole cursor (`12.0.7`) on several.
   */
  readonly cursor: string;

  constructor(fields: { channel: string; id: string; event: string; data: string; cursor: string }) {
    this.channel = fields.channel;
    this.id = fields.id;
    this.event = fields.event;
    this.data = fields.data;
    this.cursor = fields.cursor;
  }

  /** `data` parsed as JSON. The type is the caller's claim: nothing checks it. */
  json<T = unknown>(): T {
    return JSON.parse(this.data) as T;
  }
}

/** A `gap`: events after `lastEventId` on `channel` are no longer retained (docs/api.md, "Gap"). */
export interface Gap {
  channel: string;
  /** The id the client asked to resume after. */
  lastEventId: string;
  /** The oldest event still retained, null if none. */
  oldestId: string | null;
  /** The last id the channel issued, null before its first publish. */
  latestId: string | null;
}

/**
 * Why the hub answered a subscribe with a wait instead of a stream (issue 8): the channel
 * has MAX_SUBSCRIBERS already, or its object is overloaded, restarting or unreachable.
 */
export type WaitReason = 'channel_full' | 'unavailable';

/** A wait: the hub's stream said only `retry:` and {@link WaitReason}, then ended. */
export interface Wait {
  reason: WaitReason;
  /** How long the client waits before it connects again: the hub's `retry:`, plus jitter. */
  delayMs: number;
}

/**
 * Whether a comment gives the reason for a wait (`: channel_full`). Only the known reasons
 * do: a resumed stream opens with `retry:` and `: connected` and no `id:`, so the comment's
 * text is all that tells such an opening, cut at once, from a wait.
 */
export const isWaitReason = (comment: string): comment is WaitReason => comment === 'channel_full' || comment === 'unavailable';

export type Incoming =
  | { type: 'event'; event: HeraldEvent }
  | { type: 'gap'; gap: Gap }
  /** The channel was deleted (a `close` event). */
  | { type: 'close'; channel: string }
  /** The message breaks the contract; `reason` says how. */
  | { type: 'invalid'; reason: string };

type Fields = Record<string, unknown>;

function parseObject(data: string): Fields | undefined {
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
  } catch {
    return undefined;
  }
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isId = (value: unknown): value is string | null => value === null || isString(value);

/** The channel a multi-channel message names, if it is one of the target's. */
function channelIn(fields: Fields | undefined, target: Target): string | undefined {
  const channel = fields?.channel;
  return target.kind === 'channels' && isString(channel) && target.channels.includes(channel) ? channel : undefined;
}

function interpretGap(message: EventSourceMessage, target: Target): Incoming {
  const fields = parseObject(message.data);
  const channel = target.kind === 'channel' ? target.channel : channelIn(fields, target);
  if (fields === undefined || channel === undefined || !isString(fields.lastEventId) || !isId(fields.oldestId) || !isId(fields.latestId)) {
    return { type: 'invalid', reason: `a gap event whose data is not a gap of this subscription: ${message.data}` };
  }
  return { type: 'gap', gap: { channel, lastEventId: fields.lastEventId, oldestId: fields.oldestId, latestId: fields.latestId } };
}

function interpretClose(message: EventSourceMessage, target: Target): Incoming {
  if (target.kind === 'channel') return { type: 'close', channel: target.channel };
  const channel = channelIn(parseObject(message.data), target);
  return channel === undefined
    ? { type: 'invalid', reason: `a close event that names none of the subscribed channels: ${message.data}` }
    : { type: 'close', channel };
}

/** Turns one parsed SSE message of the hub's stream into what it means for the subscriber. */
export function interpret(message: EventSourceMessage, target: Target): Incoming {
  const event = message.event ?? 'message';
  if (event === 'gap') return interpretGap(message, target);
  if (event === 'close') return interpretClose(message, target);
  // Every published event carries its `id:`; the hub's own gap and close are the only ones without.
  const cursor = message.id;
  if (cursor === undefined) return { type: 'invalid', reason: `a '${event}' event without an id` };
  if (target.kind === 'channel') {
    return { type: 'event', event: new HeraldEvent({ channel: target.channel, id: cursor, event, data: message.data, cursor }) };
  }
  const envelope = parseObject(message.data);
  const channel = channelIn(envelope, target);
  if (envelope === undefined || channel === undefined || !isString(envelope.id) || !isString(envelope.data)) {
    return { type: 'invalid', reason: `event ${cursor}'s data is not an envelope {channel, id, data} of a subscribed channel: ${message.data}` };
  }
  return { type: 'event', event: new HeraldEvent({ channel, id: envelope.id, event, data: envelope.data, cursor }) };
}
