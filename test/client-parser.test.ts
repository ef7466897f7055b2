/**
 * client/parser.ts: eventsource-parser 3 (the client package's dependency, installed in
 * client/node_modules), fed line by line, plus the `onId` of version 4. Version 4 (the root's
 * devDependency, which the tests use as their independent parser) is the oracle here: the
 * same streams, cut at the same places, must give the same callbacks in the same order.
 */
import { createParser as oracle, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { createParser, idField, splitLines } from '../client/parser.ts';
import { mulberry32 } from './helpers';

type Calls = Array<[string, ...unknown[]]>;

function parse(create: typeof createParser, text: string, cuts: readonly number[]): Calls {
  const calls: Calls = [];
  const parser = create({
    onEvent: (m: EventSourceMessage) => calls.push(['event', m.id, m.event, m.data]),
    onRetry: (ms: number) => calls.push(['retry', ms]),
    onComment: (c: string) => calls.push(['comment', c]),
    onId: (id: string) => calls.push(['id', id]),
  });
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    parser.feed(text.slice(from, cut));
    from = cut;
  }
  return calls;
}

const STREAMS = {
  // The hub's opening of a live-only stream: the id: comes in a block without data.
  opening: 'retry: 1500\nid: 42\n: connected\n\n',
  'a resumed opening, events, a heartbeat': 'retry: 1500\n: connected\n\nid: 1\nevent: note\ndata: a\ndata: b\n\n: heartbeat\n\nid: 2\ndata: x\n\n',
  'CRLF and CR line ends, a bare `id`, an empty `id:`': 'id: 7\r\ndata: crlf\r\n\r\nid\r\n\r\nid:\rdata:cr\r\rid: 9\n\n',
  'an id with U+0000 (ignored), two ids in a block, a field that only starts with id':
    'id: a\0b\ndata: nul\n\nid: 5\nid: 6\n\nidentity: 4\ndata: y\n\nid: 3\n\n',
  'a byte order mark, gap and close': '\uFEFFretry: 10\nid: 0\n: connected\n\nevent: gap\ndata: {"x":1}\n\nevent: close\ndata\n\n',
  'no id, a value with a leading space kept, a bad retry, an unknown field, an empty comment':
    'data: no id\n\nid:  spaced\n\nid:x\ndata:tight\n\nretry: x\nfoo: bar\n:\n\n',
  'an unfinished block': 'id: 1\ndata: unterminated',
  'multi-channel envelopes and cursors':
    'retry: 2000\nid: 3.0\n: connected\n\nid: 4.0\ndata: {"channel":"a","id":"4","data":"x"}\n\nid: 4.1\nevent: n\ndata: {"channel":"b","id":"1","data":"y"}\n\n',
};

describe('client/parser.ts against eventsource-parser 4', () => {
  it.each(Object.entries(STREAMS))('%s: the same callbacks in one piece, cut at every place, and cut at random', (_, text) => {
    const whole = parse(oracle, text, []);
    expect(parse(createParser, text, [])).toEqual(whole);
    for (let at = 0; at <= text.length; at++) expect(parse(createParser, text, [at])).toEqual(parse(oracle, text, [at]));
    const next = mulberry32(text.length);
    for (let trial = 0; trial < 300; trial++) {
      const cuts = Array.from({ length: 1 + Math.floor(next() * 8) }, () => Math.floor(next() * (text.length + 1))).sort((a, b) => a - b);
      expect(parse(createParser, text, cuts), `cut at ${cuts.join(', ')}`).toEqual(parse(oracle, text, cuts));
    }
  });

  it("reports the opening id: before any event, and an event's id before the event", () => {
    expect(parse(createParser, STREAMS.opening, [])).toEqual([
      ['retry', 1500],
      ['comment', 'connected'],
      ['id', '42'],
    ]);
    expect(parse(createParser, 'id: 5\ndata: x\n\n', [])).toEqual([
      ['id', '5'],
      ['event', '5', undefined, 'x'],
    ]);
  });
});

describe('splitLines', () => {
  it('ends lines at CRLF, LF and CR, a CRLF cut between its CR and LF being one end', () => {
    const lines: string[] = [];
    const feed = splitLines((line) => lines.push(line));
    for (const piece of ['a\r', '\nb\n', '\r', 'c\rd', '', 'e\r\n\n', 'f']) feed(piece);
    expect(lines).toEqual(['a', 'b', '', 'c', 'de', '']);
  });
});

describe('idField', () => {
  it.each([
    ['id: 7', '7'],
    ['id:7', '7'],
    ['id:  7', ' 7'],
    ['id', ''],
    ['id:', ''],
    ['id: a\0b', undefined],
    ['identity: 4', undefined],
    ['data: id: 1', undefined],
    [': id: 1', undefined],
  ])('%j → %j', (line, value) => {
    expect(idField(line)).toBe(value);
  });
});
