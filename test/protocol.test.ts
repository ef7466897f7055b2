// src/protocol.ts directly: the versioned messages between the edge Worker and the channel
// object (issue 8, "Versioned messages"). Each side refuses what it does not understand.
import { describe, expect, it } from 'vitest';
import { MORE, PING, PROTOCOL_VERSION, RELAY_KEY, attachUrl, countMessage, decodeMessage, encodeMessage, parseRequest } from '../src/protocol';

const bytes = (s: string) => new TextEncoder().encode(s);

describe('object → Worker messages', () => {
  it('round-trips every kind with its ids, gap flag and the very payload bytes', () => {
    for (const kind of ['replay', 'caught_up', 'close'] as const) {
      const payload = bytes('id: 42\ndata: é\n\n');
      const wire = encodeMessage({ kind, gap: kind === 'replay', after: 41, last: 42 }, [payload]);
      // `wire`: the very buffer it came in, which a relay forwards as it is.
      expect(decodeMessage(wire)).toEqual({ ok: true, kind, gap: kind === 'replay', after: 41, last: 42, parts: [], payload, wire });
    }
  });

  it('carries the size of each publish of a live message, and their bytes joined', () => {
    const publishes = [bytes('id: 5\ndata: a\n\n'), bytes('id: 6\ndata: b\n\nid: 7\ndata: c\n\n')];
    const wire = encodeMessage({ kind: 'events', gap: false, after: 4, last: 7 }, publishes);
    expect(decodeMessage(wire)).toEqual({
      wire,
      ok: true,
      kind: 'events',
      gap: false,
      after: 4,
      last: 7,
      parts: [15, 30],
      payload: bytes('id: 5\ndata: a\n\nid: 6\ndata: b\n\nid: 7\ndata: c\n\n'),
    });
  });

  it('carries ids up to 2^53 - 1 exactly', () => {
    const decoded = decodeMessage(encodeMessage({ kind: 'events', gap: false, after: 2 ** 53 - 2, last: 2 ** 53 - 1 }, [bytes('x')]));
    expect(decoded).toMatchObject({ ok: true, after: 2 ** 53 - 2, last: 2 ** 53 - 1 });
  });

  it('starts with the protocol version, then the kind', () => {
    const message = new Uint8Array(encodeMessage({ kind: 'caught_up', gap: true, after: 0, last: 0 }, [bytes('x')]));
    expect([...message.slice(0, 3)]).toEqual([PROTOCOL_VERSION, 3, 1]);
    expect(message.byteLength).toBe(25);
  });

  const valid = () => new Uint8Array(encodeMessage({ kind: 'events', gap: false, after: 1, last: 2 }, [bytes('id: 2\ndata: x\n\n')]));
  const withView = (edit: (view: DataView) => void) => () => {
    const m = valid();
    edit(new DataView(m.buffer));
    return m;
  };
  it.each([
    ['too short', () => new Uint8Array(23), /too short/],
    ['another version', () => Object.assign(valid(), { 0: PROTOCOL_VERSION + 1 }), /protocol version 2/],
    ['kind 0', () => Object.assign(valid(), { 1: 0 }), /unknown message kind 0/],
    ['kind 9', () => Object.assign(valid(), { 1: 9 }), /unknown message kind 9/],
    ['a fractional id', withView((v) => v.setFloat64(4, 1.5)), /whole numbers/],
    ['a negative id', withView((v) => v.setFloat64(12, -1)), /whole numbers/],
    ['a live message without parts', withView((v) => v.setUint32(20, 0)), /0 parts in a events message/],
    ['more parts than bytes', withView((v) => v.setUint32(20, 1000)), /1000 parts/],
    ['parts that do not add up', withView((v) => v.setUint32(24, 3)), /do not add up/],
    ['a replay message with parts', () => Object.assign(valid(), { 1: 2 }), /1 parts in a replay message/],
  ])('refuses %s', (_, make, reason) => {
    const decoded = decodeMessage(make().buffer as ArrayBuffer);
    expect(decoded.ok).toBe(false);
    expect(decoded.ok ? '' : decoded.reason).toMatch(reason);
  });
});

describe('Worker → object messages', () => {
  it('takes `more` of this version', () => {
    expect(parseRequest(MORE)).toEqual({ ok: true, type: 'more' });
  });

  it("takes a relay's count (whether the socket may send one is the object's call)", () => {
    const none = { deliveries: 0, subscribes: 0, resumes: 0, gaps: 0, cut: 0 };
    expect(countMessage(1000)).toBe('{"v":1,"type":"count","n":1000}');
    expect(parseRequest(countMessage(1000))).toEqual({ ok: true, type: 'count', n: 1000, stats: none });
  });

  it("takes a relay's count with what it counted since its last report (stats.ts)", () => {
    const counted = { deliveries: 40, subscribes: 3, resumes: 1, gaps: 1, cut: 2 };
    expect(countMessage(7, counted)).toBe('{"v":1,"type":"count","n":7,"stats":{"deliveries":40,"subscribes":3,"resumes":1,"gaps":1,"cut":2}}');
    expect(parseRequest(countMessage(7, counted))).toEqual({ ok: true, type: 'count', n: 7, stats: counted });
  });

  it.each([
    ['binary', new ArrayBuffer(4), /binary/],
    ['not JSON', 'more please', /not JSON/],
    ['a JSON string', '"more"', /not a message object/],
    ['null', 'null', /not a message object/],
    ['no version', '{"type":"more"}', /protocol version undefined/],
    ['another version', '{"v":2,"type":"more"}', /protocol version 2/],
    ['an unknown type', '{"v":1,"type":"subscribe"}', /unknown message type "subscribe"/],
    // The keep-alive is answered by the runtime; reaching the object, it is not a request.
    ['a ping', PING, /unknown message type "ping"/],
    ['a count that is not a whole number', '{"v":1,"type":"count","n":1.5}', /a count must be a whole number/],
    ['a negative count', '{"v":1,"type":"count","n":-1}', /a count must be a whole number/],
    ['a count without n', '{"v":1,"type":"count"}', /a count must be a whole number/],
    ['stats with a counter the root keeps itself', '{"v":1,"type":"count","n":1,"stats":{"published":5}}', /stats must be relayed counters/],
    ['a negative counter', '{"v":1,"type":"count","n":1,"stats":{"cut":-1}}', /stats must be relayed counters/],
    ['stats that are not an object', '{"v":1,"type":"count","n":1,"stats":3}', /stats must be relayed counters/],
  ])('refuses %s', (_, message, reason) => {
    const parsed = parseRequest(message);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.reason).toMatch(reason);
  });
});

describe('attachUrl', () => {
  it('names the version, and the id to resume after when there is one', () => {
    expect(attachUrl(null)).toBe('https://channel.herald/attach?v=1');
    expect(attachUrl(0)).toBe('https://channel.herald/attach?v=1&after=0');
    expect(attachUrl(41)).toBe('https://channel.herald/attach?v=1&after=41');
  });

  it('says where a subscriber is, which relay attaches and with how many, and which relay a Worker means', () => {
    expect(attachUrl(3, { as: 'subscriber', region: 'weur' })).toBe('https://channel.herald/attach?v=1&after=3&region=weur');
    expect(attachUrl(3, { as: 'subscriber', region: 'weur', full: 'weur.0' })).toBe('https://channel.herald/attach?v=1&after=3&region=weur&full=weur.0');
    expect(attachUrl(null, { as: 'relay', key: 'apac.2', count: 17 })).toBe('https://channel.herald/attach?v=1&key=apac.2&count=17&as=relay');
    expect(attachUrl(9, { as: 'relayed', channel: 'scores', key: 'apac.2' })).toBe(
      'https://channel.herald/attach?v=1&after=9&channel=scores&key=apac.2&as=relayed',
    );
  });
});

describe('RELAY_KEY', () => {
  it.each(['wnam.0', 'enam.12', 'me.9999999'])('takes %s', (key) => expect(RELAY_KEY.test(key)).toBe(true));
  it.each(['weur', 'weur.', 'weur.01', 'mars.0', 'weur.0/x', ' weur.0', 'weur.-1', 'me.10000000'])('refuses %j', (key) =>
    expect(RELAY_KEY.test(key)).toBe(false),
  );
});
