/**
 * Turns a publish request body into events (docs/api.md, "Publish"): JSON as one event or a
 * batch, anything else as text. Pure: bytes and headers in, events out, or a HubError.
 */
import type { EventInput } from './channel';
import { MAX_BATCH_EVENTS } from './config';
import { HubError } from './errors';
import { parseEventName } from './input';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();

export interface PublishRequest {
  body: Uint8Array;
  contentType: string | undefined;
  /** The `?event=` parameter: the name of a text body, or the default for JSON events. */
  eventParam: string | undefined;
  maxEventBytes: number;
}

export function parsePublishBody({ body, contentType, eventParam, maxEventBytes }: PublishRequest): EventInput[] {
  const text = decodeUtf8(body);
  const defaultName = eventParam === undefined ? 'message' : parseEventName(eventParam);
  if (!isJson(contentType)) return [checkSize({ event: defaultName, data: text }, maxEventBytes, undefined)];

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HubError('invalid_json', 'The body is not valid JSON. Send {"data": …} or {"events": […]}, or send text with another Content-Type.');
  }
  if (!isObject(json)) {
    throw new HubError('invalid_payload', 'The JSON body must be an object: {"data": …, "event"?: "<name>"} or {"events": […]}.');
  }
  if (!('events' in json)) return [toEvent(json, defaultName, maxEventBytes, undefined)];

  const { events, ...rest } = json;
  if (Object.keys(rest).length > 0) {
    throw new HubError('invalid_payload', `A batch has only the field "events"; unexpected: ${Object.keys(rest).join(', ')}.`);
  }
  if (!Array.isArray(events) || events.length === 0) {
    throw new HubError('invalid_payload', '"events" must be a non-empty array of {"data": …, "event"?: "<name>"}.');
  }
  if (events.length > MAX_BATCH_EVENTS) {
    throw new HubError('payload_too_large', `A batch holds at most ${MAX_BATCH_EVENTS} events, got ${events.length}. Split it.`);
  }
  return events.map((item, index) => {
    if (!isObject(item)) throw new HubError('invalid_payload', `events[${index}] must be an object {"data": …}.`);
    return toEvent(item, defaultName, maxEventBytes, index);
  });
}

function toEvent(item: Record<string, unknown>, defaultName: string, maxEventBytes: number, index: number | undefined): EventInput {
  const where = index === undefined ? 'The event' : `events[${index}]`;
  const unexpected = Object.keys(item).filter((k) => k !== 'data' && k !== 'event');
  if (unexpected.length > 0) {
    throw new HubError(
      'invalid_payload',
      `${where} has unexpected fields: ${unexpected.join(', ')}. An event has "data" and optionally "event"; the hub stamps ids.`,
    );
  }
  if (!('data' in item)) throw new HubError('invalid_payload', `${where} has no "data".`);
  if (item.event !== undefined && typeof item.event !== 'string') {
    throw new HubError('invalid_event', `${where}'s "event" must be a string.`);
  }
  const event = item.event === undefined ? defaultName : parseEventName(item.event);
  // A string is sent as is; any other JSON value as its compact JSON text.
  const data = typeof item.data === 'string' ? item.data : JSON.stringify(item.data);
  // JSON can carry lone surrogates ("\ud800"), which have no UTF-8 form.
  if (!data.isWellFormed()) throw new HubError('invalid_data', `${where}'s data is not valid Unicode text (it has a lone surrogate).`);
  return checkSize({ event, data }, maxEventBytes, where);
}

function checkSize(event: EventInput, maxEventBytes: number, where: string | undefined): EventInput {
  // Cheap bound first: a UTF-16 code unit is at most 3 bytes of UTF-8.
  if (event.data.length * 3 > maxEventBytes && encoder.encode(event.data).byteLength > maxEventBytes) {
    throw new HubError('payload_too_large', `${where ?? 'The event'}'s data is over ${maxEventBytes} bytes (MAX_EVENT_BYTES).`);
  }
  return event;
}

function decodeUtf8(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw new HubError('invalid_data', 'The body is not valid UTF-8.');
  }
}

function isJson(contentType: string | undefined): boolean {
  const media = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  return media === 'application/json';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** SHA-256 of the parsed events: a retry with the same events matches, any other body does not. */
export async function fingerprint(events: readonly EventInput[]): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(JSON.stringify(events.map((e) => [e.event, e.data]))));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
