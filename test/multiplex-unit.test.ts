// docs/api.md "Multi-channel subscribe": the pure parts — reading the objects' frames back,
// the channel set, the cursor, and the merged stream's framing.
import { describe, expect, it } from 'vitest';
import { MAX_CHANNELS, cursorText, parseChannelSet, parseCursor } from '../src/cursor';
import { HubError } from '../src/errors';
import { parseFrame } from '../src/frames';
import { encodeChannelNotice, encodeClose, encodeEvent, encodeGap, encodeMergedEvent, encodeOpening, HEARTBEAT } from '../src/sse';
import { parseSse } from './helpers';

const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err instanceof HubError ? `${err.toResponse().status} ${err.code}` : String(err);
  }
  return 'no error';
};

describe('parseFrame reads back what sse.ts writes', () => {
  it('reads events, openings, gaps, closes and comments', () => {
    const text = [
      encodeOpening(2000, 7),
      encodeEvent({ id: 8, event: 'message', data: 'a\nb\r\nc' }),
      encodeEvent({ id: 9, event: 'order.created', data: '{"x":"y: z"}' }),
      encodeGap({ lastEventId: 3, oldestId: 5, latestId: 9 }),
      HEARTBEAT,
      encodeClose('deleted'),
    ]
      .map(decode)
      .join('');
    const frames = text.split('\n\n').slice(0, -1).map(parseFrame);
    expect(frames).toEqual([
      // The opening's `retry:` is the stream's, not the channel's: nothing reads it back.
      { id: 7 },
      { id: 8, data: 'a\nb\nc' },
      { id: 9, event: 'order.created', data: '{"x":"y: z"}' },
      { event: 'gap', data: '{"lastEventId":"3","oldestId":"5","latestId":"9"}' },
      {},
      { event: 'close', data: '{"reason":"deleted"}' },
    ]);
  });

  it('takes a value with or without the space after the colon, and an empty data line', () => {
    expect(parseFrame('id:4\ndata:\ndata: x')).toEqual({ id: 4, data: '\nx' });
  });
});

describe('parseChannelSet', () => {
  it('keeps 1–16 distinct valid names in the order given', () => {
    expect(parseChannelSet(['b', 'a', 'private-x'])).toEqual(['b', 'a', 'private-x']);
    const sixteen = Array.from({ length: MAX_CHANNELS }, (_, i) => `c${i}`);
    expect(parseChannelSet(sixteen)).toEqual(sixteen);
  });

  it.each([
    ['none', []],
    ['17', Array.from({ length: 17 }, (_, i) => `c${i}`)],
    ['a repeat', ['a', 'b', 'a']],
    ['an empty name', ['a', '']],
    ['a bad name', ['a', 'b/c']],
    ['a space', ['a b']],
  ])('refuses %s with 400 invalid_channel', (_, names) => {
    expect(codeOf(() => parseChannelSet(names))).toBe('400 invalid_channel');
  });
});

describe('parseCursor', () => {
  it('reads one id per channel, in order; the header wins over the query', () => {
    expect(parseCursor('12.0.7', undefined, 3)).toEqual([12, 0, 7]);
    expect(parseCursor(' 5.6 ', '1.1', 2)).toEqual([5, 6]);
    expect(parseCursor(undefined, '1.2', 2)).toEqual([1, 2]);
    expect(parseCursor(undefined, undefined, 2)).toBeNull();
  });

  it('takes 0 alone as everything retained on every channel', () => {
    expect(parseCursor('0', undefined, 3)).toEqual([0, 0, 0]);
  });

  it.each(['1.2', '1.2.3.4', '1..3', 'a.b.c', '1.-2.3', '1.2.3.', '', '99999999999999999.1.1'])(
    'refuses %j for three channels with 400 invalid_last_event_id',
    (text) => {
      expect(codeOf(() => parseCursor(text, undefined, 3))).toBe('400 invalid_last_event_id');
    },
  );

  it('writes what it reads', () => {
    expect(cursorText([12, 0, 7])).toBe('12.0.7');
    expect(parseCursor(cursorText([3, 9]), undefined, 2)).toEqual([3, 9]);
  });
});

describe('merged framing', () => {
  it('wraps the data in one JSON line with the channel and its own id; the cursor is the id', () => {
    const text = encodeMergedEvent('4.9', 'orders', { id: 9, event: 'order.created', data: 'a\nb\r"c"' });
    expect(text).toBe('id: 4.9\nevent: order.created\ndata: {"channel":"orders","id":"9","data":"a\\nb\\r\\"c\\""}\n\n');
    expect(parseSse(text).events).toEqual([{ id: '4.9', event: 'order.created', data: '{"channel":"orders","id":"9","data":"a\\nb\\r\\"c\\""}' }]);
    expect(encodeMergedEvent('1.0', 'a', { id: 1, event: 'message', data: 'x' })).toBe('id: 1.0\ndata: {"channel":"a","id":"1","data":"x"}\n\n');
  });

  it('puts the channel first in gap and close', () => {
    expect(encodeChannelNotice('gap', 'a', '{"lastEventId":"3","oldestId":"5","latestId":"9"}')).toBe(
      'event: gap\ndata: {"channel":"a","lastEventId":"3","oldestId":"5","latestId":"9"}\n\n',
    );
    expect(encodeChannelNotice('close', 'b', '{"reason":"deleted"}')).toBe('event: close\ndata: {"channel":"b","reason":"deleted"}\n\n');
  });
});
