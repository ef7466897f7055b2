// Publish bodies, docs/api.md "Publish": JSON single and batch, text, names, limits, UTF-8.
import { describe, expect, it } from 'vitest';
import { HubError } from '../src/errors';
import { fingerprint, parsePublishBody, type PublishRequest } from '../src/body';

const encode = (text: string) => new TextEncoder().encode(text);
const JSON_TYPE = 'application/json';

function parse(body: string | Uint8Array, contentType?: string, eventParam?: string, maxEventBytes = 65536) {
  const request: PublishRequest = {
    body: typeof body === 'string' ? encode(body) : body,
    contentType,
    eventParam,
    maxEventBytes,
  };
  return parsePublishBody(request);
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof HubError) return err.code;
    throw err;
  }
  throw new Error('expected a HubError');
}

describe('text bodies', () => {
  it('publishes the body as the data of one "message" event', () => {
    expect(parse('hello\r\nworld', 'text/plain')).toEqual([{ event: 'message', data: 'hello\r\nworld' }]);
  });
  it('names the event from ?event=', () => {
    expect(parse('x', undefined, 'tick')).toEqual([{ event: 'tick', data: 'x' }]);
  });
  it('treats a body without Content-Type as text, even if it looks like JSON', () => {
    expect(parse('{"data":1}', undefined)).toEqual([{ event: 'message', data: '{"data":1}' }]);
  });
  it('strips a UTF-8 byte order mark', () => {
    expect(parse(new Uint8Array([0xef, 0xbb, 0xbf, 0x61]), 'text/plain')).toEqual([{ event: 'message', data: 'a' }]);
  });
});

describe('JSON bodies', () => {
  it.each([
    ['a string as is', '{"data":"hi\\nthere"}', [{ event: 'message', data: 'hi\nthere' }]],
    ['an object as compact JSON', '{"data": {"a": [1, 2], "b": null}}', [{ event: 'message', data: '{"a":[1,2],"b":null}' }]],
    ['a number', '{"data": 42}', [{ event: 'message', data: '42' }]],
    ['null', '{"data": null}', [{ event: 'message', data: 'null' }]],
    ['a named event', '{"data":"x","event":"order.created"}', [{ event: 'order.created', data: 'x' }]],
    [
      'a batch in order',
      '{"events":[{"data":"a"},{"data":"b","event":"t"}]}',
      [
        { event: 'message', data: 'a' },
        { event: 't', data: 'b' },
      ],
    ],
  ])('reads %s', (_, body, events) => {
    expect(parse(body, JSON_TYPE)).toEqual(events);
  });

  it('accepts a charset parameter and any letter case in the media type', () => {
    expect(parse('{"data":"x"}', 'Application/JSON; charset=utf-8')).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('uses ?event= for JSON events that name none', () => {
    expect(parse('{"events":[{"data":"a"},{"data":"b","event":"own"}]}', JSON_TYPE, 'dflt')).toEqual([
      { event: 'dflt', data: 'a' },
      { event: 'own', data: 'b' },
    ]);
  });

  it('accepts a batch of exactly 100', () => {
    const body = JSON.stringify({ events: Array.from({ length: 100 }, (_, i) => ({ data: String(i) })) });
    expect(parse(body, JSON_TYPE)).toHaveLength(100);
  });
});

describe('refusals', () => {
  const big = 'x'.repeat(65537);
  it.each([
    ['malformed JSON', '{"data":', JSON_TYPE, undefined, 'invalid_json'],
    ['an array body', '[{"data":1}]', JSON_TYPE, undefined, 'invalid_payload'],
    ['a string body', '"hello"', JSON_TYPE, undefined, 'invalid_payload'],
    ['no data', '{"event":"x"}', JSON_TYPE, undefined, 'invalid_payload'],
    ['an unknown field', '{"data":"x","id":"99"}', JSON_TYPE, undefined, 'invalid_payload'],
    ['an empty batch', '{"events":[]}', JSON_TYPE, undefined, 'invalid_payload'],
    ['events not an array', '{"events":{"data":1}}', JSON_TYPE, undefined, 'invalid_payload'],
    ['a batch with a stray field', '{"events":[{"data":1}],"data":2}', JSON_TYPE, undefined, 'invalid_payload'],
    ['a non-object in a batch', '{"events":["x"]}', JSON_TYPE, undefined, 'invalid_payload'],
    ['a non-string event name', '{"data":"x","event":5}', JSON_TYPE, undefined, 'invalid_event'],
    ['an event name with LF', '{"data":"x","event":"a\\nid: 9"}', JSON_TYPE, undefined, 'invalid_event'],
    ['the reserved name gap', '{"data":"x","event":"gap"}', JSON_TYPE, undefined, 'invalid_event'],
    ['a reserved ?event=', 'x', 'text/plain', 'close', 'invalid_event'],
    ['?event= with CR', 'x', 'text/plain', 'a\rb', 'invalid_event'],
    ['a lone surrogate', '{"data":"\\ud800"}', JSON_TYPE, undefined, 'invalid_data'],
    ['101 events', JSON.stringify({ events: Array.from({ length: 101 }, () => ({ data: 'x' })) }), JSON_TYPE, undefined, 'payload_too_large'],
    ['text over MAX_EVENT_BYTES', big, 'text/plain', undefined, 'payload_too_large'],
    ['JSON data over MAX_EVENT_BYTES', JSON.stringify({ data: big }), JSON_TYPE, undefined, 'payload_too_large'],
  ])('refuses %s', (_, body, type, eventParam, code) => {
    expect(failure(() => parse(body, type, eventParam))).toBe(code);
  });

  it.each([
    ['a lone continuation byte', [0x61, 0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['a UTF-16 surrogate in UTF-8', [0xed, 0xa0, 0x80]],
  ])('refuses invalid UTF-8 (%s) with invalid_data', (_, bytes) => {
    expect(failure(() => parse(new Uint8Array(bytes), 'text/plain'))).toBe('invalid_data');
    expect(failure(() => parse(new Uint8Array(bytes), JSON_TYPE))).toBe('invalid_data');
  });

  it('counts MAX_EVENT_BYTES in UTF-8 bytes, not characters', () => {
    // 3 × "é" is 6 bytes of UTF-8.
    expect(parse('ééé', 'text/plain', undefined, 6)).toEqual([{ event: 'message', data: 'ééé' }]);
    expect(failure(() => parse('ééé', 'text/plain', undefined, 5))).toBe('payload_too_large');
  });
});

describe('fingerprint', () => {
  it('is the same for the same events and differs for any change', async () => {
    const a = await fingerprint([{ event: 'message', data: 'x' }]);
    expect(await fingerprint([{ event: 'message', data: 'x' }])).toBe(a);
    expect(await fingerprint([{ event: 'other', data: 'x' }])).not.toBe(a);
    expect(await fingerprint([{ event: 'message', data: 'y' }])).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});
