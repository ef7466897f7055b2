/**
 * The multi-channel subscription's request (docs/api.md, "Multi-channel subscribe"): the
 * set of channels, and the cursor that says where each of them resumes. Pure functions.
 */
import { HubError } from './errors';
import { parseChannel, parseEventId } from './input';

/** Channels one multi-channel stream may carry. */
export const MAX_CHANNELS = 16;

/** The `channel` query parameters, validated: 1–16 channel names, none twice, in the order given. */
export function parseChannelSet(names: readonly string[]): string[] {
  if (names.length === 0) {
    throw new HubError('invalid_channel', 'Name the channels to subscribe to: /v1/events?channel=a&channel=b (1–16).');
  }
  if (names.length > MAX_CHANNELS) {
    throw new HubError('invalid_channel', `A multi-channel stream carries at most ${MAX_CHANNELS} channels, got ${names.length}.`);
  }
  const seen = new Set<string>();
  for (const name of names) {
    parseChannel(name);
    if (seen.has(name)) throw new HubError('invalid_channel', `The channel '${name}' is named twice.`);
    seen.add(name);
  }
  return [...names];
}

/**
 * Where each channel resumes, from `Last-Event-ID` (wins) or the `lastEventId` parameter:
 * one id per channel joined by `.`, in the order of the channels, or `0` for everything
 * retained on all of them. Null without either: live only.
 */
export function parseCursor(header: string | undefined, query: string | undefined, channels: number): number[] | null {
  const [text, what] = header !== undefined ? [header.trim(), 'The Last-Event-ID header'] : [query, 'The lastEventId parameter'];
  if (text === undefined) return null;
  if (text === '0') return new Array<number>(channels).fill(0);
  const parts = text.split('.');
  if (parts.length !== channels) {
    throw new HubError(
      'invalid_last_event_id',
      `${what} must be a cursor from this stream: ${channels} event id(s) joined by '.', one per channel in the order of the channel parameters, or 0.`,
    );
  }
  return parts.map((part) => parseEventId(part, what));
}

/** The cursor as it goes in `id:`. */
export const cursorText = (positions: readonly number[]): string => positions.join('.');
