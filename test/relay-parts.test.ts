// Issue 9, relays: the pure parts. Where a subscriber is (request.cf → one of the nine
// location hints, docs/api.md "Relays"), which relay the root sends it to, and the relay's
// tail of recent messages that serves a resuming subscriber near it.
import { describe, expect, it } from 'vitest';
import { Placement, SENT_FORGET_MS } from '../src/placement';
import { DEFAULT_REGION, regionOf } from '../src/region';
import { Tail, type TailEntry } from '../src/tail';

describe('regionOf', () => {
  it.each([
    ['San Francisco', { continent: 'NA', country: 'US', longitude: '-122.4' }, 'wnam'],
    ['New York', { continent: 'NA', country: 'US', longitude: '-74.0' }, 'enam'],
    ['Mexico City', { continent: 'NA', country: 'MX', longitude: '-99.1' }, 'enam'],
    ['São Paulo', { continent: 'SA', country: 'BR', longitude: '-46.6' }, 'sam'],
    ['London', { continent: 'EU', country: 'GB', longitude: '-0.1' }, 'weur'],
    ['Warsaw', { continent: 'EU', country: 'PL', longitude: '21.0' }, 'eeur'],
    ['Dubai', { continent: 'AS', country: 'AE', longitude: '55.3' }, 'me'],
    ['Tokyo', { continent: 'AS', country: 'JP', longitude: '139.7' }, 'apac'],
    ['Sydney', { continent: 'OC', country: 'AU', longitude: '151.2' }, 'oc'],
    ['Lagos', { continent: 'AF', country: 'NG', longitude: '3.4' }, 'afr'],
    ['a number longitude', { continent: 'NA', longitude: -120 }, 'wnam'],
    ['Antarctica', { continent: 'AN' }, DEFAULT_REGION],
    ['Tor', { continent: 'T1', country: 'T1' }, DEFAULT_REGION],
    ['no longitude in NA', { continent: 'NA' }, 'enam'],
    ['nothing known', {}, DEFAULT_REGION],
  ])('places %s in its hint', (_, cf, region) => expect(regionOf(cf)).toBe(region));

  it('places a request without cf (local development, tests) in the default region, enam', () => {
    expect(regionOf(undefined)).toBe('enam');
  });
});

describe('Placement', () => {
  const none = () => undefined;

  it('fills the first relay of a region, then names the next, by what it sent since the reports', () => {
    const placement = new Placement();
    expect(Array.from({ length: 5 }, () => placement.place('weur', none, 2, 100, 0))).toEqual(['weur.0', 'weur.0', 'weur.1', 'weur.1', 'weur.2']);
    expect(placement.place('apac', none, 2, 100, 0)).toBe('apac.0');
    expect([placement.named('weur'), placement.named('apac'), placement.total]).toEqual([3, 1, 4]);
  });

  it('names no more relays than maxRelays: then one of another region with room, then none (the channel is full)', () => {
    const placement = new Placement();
    expect([placement.place('weur', none, 2, 2, 0), placement.place('apac', none, 2, 2, 0)]).toEqual(['weur.0', 'apac.0']);
    expect(placement.place('weur', none, 2, 2, 0)).toBe('weur.0');
    // weur.0 is full; no third relay may be named: apac.0 has room.
    expect(placement.place('weur', none, 2, 2, 0)).toBe('apac.0');
    expect(placement.place('weur', none, 2, 2, 0)).toBeNull();
    expect(placement.total).toBe(2);
  });

  it('aims by what a relay said plus what was sent since shortly before; a later report replaces those', () => {
    const placement = new Placement();
    const reported = new Map([['weur.0', 999]]);
    const counts = (key: string) => reported.get(key);
    placement.admits('weur.0', 100);
    expect(placement.place('weur', counts, 1000, 100, 0)).toBe('weur.0');
    expect(placement.place('weur', counts, 1000, 100, 0)).toBe('weur.1');
    reported.set('weur.0', 998);
    placement.reported('weur.0', 2000);
    expect(placement.place('weur', counts, 1000, 100, 2000)).toBe('weur.0');
  });

  it('keeps counting the subscribers sent to a relay that attaches saying 0 while they are on their way, for SENT_FORGET_MS at most', () => {
    const placement = new Placement();
    const reported = new Map<string, number>();
    const counts = (key: string) => reported.get(key);
    expect([placement.place('weur', counts, 2, 100, 0), placement.place('weur', counts, 2, 100, 0)]).toEqual(['weur.0', 'weur.0']);
    reported.set('weur.0', 0);
    placement.reported('weur.0', 10);
    expect(placement.place('weur', counts, 2, 100, 20)).toBe('weur.1');
    // Ten seconds on, a subscriber sent and never counted is taken as never come.
    expect(placement.place('weur', counts, 2, 100, SENT_FORGET_MS + 20)).toBe('weur.0');
  });

  it('sends nobody more to a relay that refused one as full, until it reports again', () => {
    const placement = new Placement();
    placement.admits('weur.0', 100);
    placement.refused('weur.0');
    expect(placement.place('weur', none, 1000, 100, 0)).toBe('weur.1');
    placement.reported('weur.0', 0);
    expect(placement.place('weur', none, 1000, 100, 0)).toBe('weur.0');
  });

  it('admits a relay that attaches within the capacity (and names those below it), not one beyond', () => {
    const placement = new Placement();
    expect(placement.admits('oc.4', 6)).toBe(true);
    expect([placement.named('oc'), placement.total]).toEqual([5, 5]);
    expect(placement.admits('oc.2', 6)).toBe(true);
    expect(placement.admits('weur.0', 6)).toBe(true);
    expect(placement.admits('weur.1', 6)).toBe(false);
    expect(placement.total).toBe(6);
  });

  it('uses no more relays than the capacity has now, trimming the largest regions, and keeps the counts across a restart', () => {
    const placement = new Placement();
    placement.restore({ weur: 5, apac: 3, me: -1, oc: 1e12 } as never);
    expect(placement.counts).toEqual({ weur: 5, apac: 3 });
    // MAX_SUBSCRIBERS lowered since: room for 4 relays now.
    expect(Object.fromEntries(placement.allowed(4))).toEqual({ weur: 2, apac: 2 });
    expect(placement.admits('weur.3', 4)).toBe(false);
    const full = () => 1000;
    expect(placement.place('weur', full, 1000, 4, 0)).toBeNull();
    expect(placement.place('weur', none, 1000, 4, 0)).toBe('weur.0');
  });
});

describe('Tail', () => {
  const bytes = (s: string) => new TextEncoder().encode(s);
  const text = (parts: Uint8Array[]) => parts.map((p) => new TextDecoder().decode(p)).join('');
  const entry = (after: number, last: number): TailEntry => {
    let s = '';
    for (let id = after + 1; id <= last; id++) s += `id: ${id}\ndata: x\n\n`;
    return { after, last, gap: false, payload: bytes(s), wire: new ArrayBuffer(0) };
  };

  it('serves a cursor where an entry begins, up to a byte budget (at least one entry), with the last id', () => {
    const tail = new Tail(1 << 20);
    for (const [a, l] of [
      [0, 1],
      [1, 3],
      [3, 4],
      [4, 8],
    ] as const)
      tail.push(entry(a, l));
    expect(tail.after(1, 1 << 20)).toEqual({ payloads: [entry(1, 3).payload, entry(3, 4).payload, entry(4, 8).payload], last: 8, gap: false });
    const first = tail.after(1, 30)!;
    expect([text(first.payloads), first.last]).toEqual(['id: 2\ndata: x\n\nid: 3\ndata: x\n\n', 3]);
    expect(tail.after(8, 100)).toBeNull();
    // A cursor inside an entry is not served from here: the relay reads the root's log.
    expect(tail.after(2, 100)).toBeNull();
  });

  it('forgets its oldest entries past its size, always keeping the newest', () => {
    const tail = new Tail(40);
    tail.push(entry(0, 1));
    tail.push(entry(1, 2));
    tail.push(entry(2, 3));
    expect(tail.oldest).toBe(1);
    expect(tail.after(0, 100)).toBeNull();
    tail.push(entry(3, 10));
    expect(tail.oldest).toBe(3);
    tail.clear();
    expect(tail.oldest).toBeNull();
  });
});
