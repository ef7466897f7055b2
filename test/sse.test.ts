// The wire format of docs/api.md, "Subscribe": exact bytes, and what an independent parser rebuilds.
import { describe, expect, it } from 'vitest';
import { HEARTBEAT, encodeClose, encodeEvent, encodeEventText, encodeGap, encodeOpening } from '../src/sse';
import { parseSse } from './helpers';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('encodeEventText', () => {
  it.each([
    ['one line', { id: 1, event: 'message', data: 'hello' }, 'id: 1\ndata: hello\n\n'],
    ['a named event', { id: 7, event: 'tick', data: 'x' }, 'id: 7\nevent: tick\ndata: x\n\n'],
    ['LF', { id: 2, event: 'message', data: 'a\nb' }, 'id: 2\ndata: a\ndata: b\n\n'],
    ['CR', { id: 2, event: 'message', data: 'a\rb' }, 'id: 2\ndata: a\ndata: b\n\n'],
    ['CRLF', { id: 2, event: 'message', data: 'a\r\nb' }, 'id: 2\ndata: a\ndata: b\n\n'],
    ['LF CR as two breaks', { id: 2, event: 'message', data: 'a\n\rb' }, 'id: 2\ndata: a\ndata: \ndata: b\n\n'],
    ['empty data', { id: 3, event: 'message', data: '' }, 'id: 3\ndata: \n\n'],
    ['a trailing newline', { id: 3, event: 'message', data: 'a\n' }, 'id: 3\ndata: a\ndata: \n\n'],
    ['unicode', { id: 4, event: 'message', data: 'héllo ✓ 🎉' }, 'id: 4\ndata: héllo ✓ 🎉\n\n'],
    ['JSON text', { id: 5, event: 'order', data: '{"a":[1,2]}' }, 'id: 5\nevent: order\ndata: {"a":[1,2]}\n\n'],
    ['a line that looks like a field', { id: 6, event: 'message', data: 'x\nid: 999\nevent: gap' }, 'id: 6\ndata: x\ndata: id: 999\ndata: event: gap\n\n'],
  ])('frames %s byte for byte', (_, event, expected) => {
    expect(encodeEventText(event)).toBe(expected);
    expect(text(encodeEvent(event))).toBe(expected);
  });

  it.each([
    ['hello', 'hello'],
    ['a\nb', 'a\nb'],
    ['a\rb', 'a\nb'],
    ['a\r\nb\r\nc', 'a\nb\nc'],
    ['\n\nx\n', '\n\nx\n'],
    ['data: fake\n\nid: 5', 'data: fake\n\nid: 5'],
    ['  leading spaces', '  leading spaces'],
    [': not a comment', ': not a comment'],
    ['NUL\u0000inside', 'NUL\u0000inside'],
    ['🎉 émoji', '🎉 émoji'],
  ])('%j comes back from eventsource-parser as one event with data %j', (data, rebuilt) => {
    const { events } = parseSse(encodeEventText({ id: 12, event: 'note', data }));
    expect(events).toEqual([{ id: '12', event: 'note', data: rebuilt }]);
  });

  it('leaves the event type out for "message", so the parser reports no type', () => {
    expect(parseSse(encodeEventText({ id: 1, event: 'message', data: 'x' })).events).toEqual([{ id: '1', event: undefined, data: 'x' }]);
  });
});

describe('control frames', () => {
  it('opens a resuming stream with the retry field and a comment, dispatching no event', () => {
    expect(text(encodeOpening(2000, null))).toBe('retry: 2000\n: connected\n\n');
    expect(parseSse(text(encodeOpening(2000, null)))).toEqual({ events: [], retry: [2000], comments: ['connected'], ids: [] });
  });

  it("opens a live-only stream with the last id too, which sets the client's id without an event", () => {
    expect(text(encodeOpening(1500, 42))).toBe('retry: 1500\nid: 42\n: connected\n\n');
    expect(parseSse(text(encodeOpening(1500, 42)))).toEqual({ events: [], retry: [1500], comments: ['connected'], ids: ['42'] });
    expect(parseSse(text(encodeOpening(2000, 0))).ids).toEqual(['0']);
  });

  it('writes the heartbeat as a comment', () => {
    expect(text(HEARTBEAT)).toBe(': heartbeat\n\n');
    expect(parseSse(text(HEARTBEAT))).toEqual({ events: [], retry: [], comments: ['heartbeat'], ids: [] });
  });

  it('writes gap with string ids and no id field', () => {
    expect(text(encodeGap({ lastEventId: 3, oldestId: 10, latestId: 12 }))).toBe('event: gap\ndata: {"lastEventId":"3","oldestId":"10","latestId":"12"}\n\n');
    expect(text(encodeGap({ lastEventId: 9, oldestId: null, latestId: null }))).toBe(
      'event: gap\ndata: {"lastEventId":"9","oldestId":null,"latestId":null}\n\n',
    );
  });

  it('writes close with a data line, so EventSource dispatches it', () => {
    expect(text(encodeClose('deleted'))).toBe('event: close\ndata: {"reason":"deleted"}\n\n');
    expect(parseSse(text(encodeClose('deleted'))).events).toEqual([{ id: undefined, event: 'close', data: '{"reason":"deleted"}' }]);
  });
});
