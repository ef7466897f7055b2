// Issue 9, relays: past RELAY_AFTER, a channel's subscribers are served by relay objects of
// RELAY_SIZE near them (docs/api.md, "Relays"). This project sets RELAY_AFTER=1,
// RELAY_SIZE=2, HEARTBEAT_SECONDS=1, MAX_SUBSCRIBERS=29 (one direct and 14 relays of two), MAX_BUFFERED_BYTES=65536,
// HISTORY_MAX_EVENTS=50 (vitest.config.ts). Requests here carry no `cf`, so every
// subscriber is in the default region, enam: the first relays are enam.0, enam.1…
// What must hold is docs/api.md's "Subscribe" (ids, order, resume, gap, close, 204) for every
// subscriber, whichever object serves it, and "Channel info" counting them all.
import { env } from 'cloudflare:workers';
import { abortAllDurableObjects, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay';
import { REPORT_MS } from '../../src/relay';
import { AUTH, Stream, eventually, hub, parseSse, publishIds, sleep, subscribe, uniqueChannel, within } from '../helpers';

const rootOf = (channel: string) => env.CHANNEL.get(env.CHANNEL.idFromName(channel));
const relayOf = (channel: string, key: string) => env.RELAY.get(env.RELAY.idFromName(`${key}/${channel}`));

interface Info {
  subscribers: number;
  relays: number;
  lastEventId: string | null;
  stats: { published: number; deliveries: number; subscribes: number; resumes: number; gaps: number; cut: number };
}

async function info(channel: string): Promise<Info> {
  return (await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()) as Info;
}

/** Subscribers a relay serves now, from the relay itself. */
const served = (channel: string, key: string) => runInDurableObject(relayOf(channel, key), (relay: Relay) => relay.served);

/** Every `id:` on a stream, in order. */
const ids = (stream: Stream) => parseSse(stream.text).events.map((e) => Number(e.id));

/** Subscribes `n` live subscribers one after another (so that who lands where is known). */
async function subscribers(channel: string, n: number): Promise<Stream[]> {
  const streams: Stream[] = [];
  for (let i = 0; i < n; i++) {
    const stream = await subscribe(channel);
    await stream.until((t) => t.includes(': connected'), 5000, `subscriber ${i}'s opening`);
    streams.push(stream);
  }
  return streams;
}

const closeAll = (streams: Stream[]) => Promise.all(streams.map((s) => s.close()));

describe('the fan-out tree', () => {
  it('serves one subscriber directly and the next ones on relays of two, all with the same bytes; info counts them all', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'before');
    const streams = await subscribers(channel, 5);
    expect([await served(channel, 'enam.0'), await served(channel, 'enam.1'), await served(channel, 'enam.2')]).toEqual([2, 2, 0]);
    // The root hears a relay's count within REPORT_MS; a publish answer counts them too.
    await eventually(async () => (await info(channel)).subscribers === 5, REPORT_MS + 3000, 'the relays to report');
    expect((await info(channel)).relays).toBe(2);
    const res = await hub(`/v1/channels/${channel}/events`, { method: 'POST', headers: AUTH, body: 'one' });
    expect(await res.json()).toMatchObject({ ids: ['2'], subscribers: 5 });
    expect(await publishIds(channel, { events: [{ data: 'two' }, { event: 'x', data: 'three' }] })).toEqual(['3', '4']);
    const expected = 'retry: 2000\nid: 1\n: connected\n\nid: 2\ndata: one\n\nid: 3\ndata: two\n\nid: 4\nevent: x\ndata: three\n\n';
    // Heartbeats (one a second here) fall wherever the stream was quiet: the rest is byte for byte.
    for (const stream of streams) expect((await stream.until((t) => t.includes('id: 4\n'))).replaceAll(': heartbeat\n\n', '')).toBe(expected);
    // stats count the relays' subscribers too (docs/api.md "Channel info and delete"): the
    // relays report their streams opened with their counts; deliveries are 3 events × 5.
    await eventually(async () => (await info(channel)).stats.subscribes === 5, REPORT_MS + 3000, 'the relays to report their subscribes');
    expect((await info(channel)).stats).toMatchObject({ published: 4, deliveries: 15, subscribes: 5, resumes: 0, gaps: 0 });
    await closeAll(streams);
  });

  it('resumes a subscriber on a relay with Last-Event-ID from the root log, once and in order, then live', async () => {
    const channel = uniqueChannel();
    const [direct] = await subscribers(channel, 1);
    for (let i = 1; i <= 30; i++) await publishIds(channel, `e${i}`);
    // The relay starts now, its tail empty: events 6..30 come from the root's log.
    const resumed = await subscribe(channel, { headers: { 'Last-Event-ID': '5' } });
    await resumed.until((t) => t.includes('id: 30\n'), 5000, 'the replay');
    expect(await served(channel, 'enam.0')).toBe(1);
    // Deliveries are derived from the counts the root has (a relay's is ≤ REPORT_MS old): wait for it.
    await eventually(async () => (await info(channel)).subscribers === 2, REPORT_MS + 3000, 'the relay to report');
    await publishIds(channel, 'live');
    await resumed.until((t) => t.includes('data: live'));
    expect(ids(resumed)).toEqual(Array.from({ length: 26 }, (_, i) => i + 6));
    // A second resume on the same relay, from an id its tail holds, is served near it.
    const again = await subscribe(channel, { headers: { 'Last-Event-ID': '30' } });
    await again.until((t) => t.includes('data: live'));
    expect(parseSse(again.text).events.map((e) => [e.id, e.data])).toEqual([['31', 'live']]);
    // Both resumes were on the relay, which reports them: the direct one's 30 and 'live', the
    // first resume's backlog of 25 and 'live', the second's backlog of one ('live', from the tail).
    await eventually(async () => (await info(channel)).stats.resumes === 2, REPORT_MS + 3000, 'the relay to report its resumes');
    expect((await info(channel)).stats).toMatchObject({ subscribes: 3, resumes: 2, deliveries: 31 + 26 + 1 });
    await closeAll([direct!, resumed, again]);
  });

  it('sends a relay-served subscriber the gap the root would, for an id older than the log keeps', async () => {
    const channel = uniqueChannel();
    const [direct] = await subscribers(channel, 1);
    for (let i = 0; i < 6; i++) await publishIds(channel, { events: Array.from({ length: 10 }, (_, j) => ({ data: `${i}.${j}` })) });
    // HISTORY_MAX_EVENTS=50: ids 11..60 are retained.
    const resumed = await subscribe(channel, { headers: { 'Last-Event-ID': '3' } });
    const events = await resumed.events(51);
    expect(events[0]).toMatchObject({ event: 'gap', data: '{"lastEventId":"3","oldestId":"11","latestId":"60"}' });
    expect(events.slice(1).map((e) => Number(e.id))).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
    expect(await served(channel, 'enam.0')).toBe(1);
    await closeAll([direct!, resumed]);
  });

  it('counts a multi-channel stream as one subscriber on each channel, wherever each is served', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    const open = async () => {
      const stream = new Stream(await hub(`/v1/events?channel=${a}&channel=${b}`));
      await stream.until((t) => t.includes(': connected'));
      return stream;
    };
    const first = await open();
    const second = await open();
    expect([await served(a, 'enam.0'), await served(b, 'enam.0')]).toEqual([1, 1]);
    await eventually(async () => (await info(a)).subscribers === 2 && (await info(b)).subscribers === 2, REPORT_MS + 3000, 'both counts');
    await publishIds(a, 'to a');
    await publishIds(b, 'to b');
    for (const stream of [first, second]) {
      await stream.until((t) => t.includes('to b'));
      expect(parseSse(stream.text).events.map((e) => (JSON.parse(e.data) as { data: string }).data)).toEqual(['to a', 'to b']);
    }
    await closeAll([first, second]);
  });
});

describe('capacity', () => {
  it('never puts more than RELAY_SIZE on a relay or RELAY_AFTER on the root, with subscribes all at once', async () => {
    const channel = uniqueChannel();
    const streams = await Promise.all(Array.from({ length: 9 }, () => subscribe(channel)));
    await Promise.all(streams.map((s) => s.until((t) => t.includes(': connected'))));
    const counts = await Promise.all(['enam.0', 'enam.1', 'enam.2', 'enam.3', 'enam.4', 'enam.5'].map((key) => served(channel, key)));
    for (const count of counts) expect(count).toBeLessThanOrEqual(2);
    // Nine subscribers: at most one on the root, so at least eight on relays.
    expect(counts.reduce((n, c) => n + c, 0)).toBeGreaterThanOrEqual(8);
    await eventually(async () => (await info(channel)).subscribers === 9, REPORT_MS + 3000, 'all nine counted');
    await closeAll(streams);
  });

  it('frees a relay place when a subscriber leaves, and the root takes a direct subscriber again when its place frees', async () => {
    const channel = uniqueChannel();
    const [direct, r1, r2] = await subscribers(channel, 3);
    expect(await served(channel, 'enam.0')).toBe(2);
    await r1!.close();
    await eventually(async () => (await served(channel, 'enam.0')) === 1, 3000, 'the relay to let go');
    await eventually(async () => (await info(channel)).subscribers === 2, REPORT_MS + 3000, 'the count to drop');
    const [r3] = await subscribers(channel, 1);
    expect([await served(channel, 'enam.0'), await served(channel, 'enam.1')]).toEqual([2, 0]);
    await direct!.close();
    await eventually(async () => (await info(channel)).subscribers === 2, 5000, 'the direct place to free');
    const [d2] = await subscribers(channel, 1);
    expect([await served(channel, 'enam.0'), await served(channel, 'enam.1')]).toEqual([2, 0]);
    await eventually(async () => (await info(channel)).subscribers === 3, REPORT_MS + 3000, 'three counted');
    await closeAll([r2!, r3!, d2!]);
  });

  it('answers channel_full past MAX_SUBSCRIBERS, counting the relays, and never lets one more in', async () => {
    const channel = uniqueChannel();
    // Near the limit, relays the root believes full may still have a place (they report
    // every REPORT_MS): a subscriber may be told to come back before the last places fill.
    // Come back, as EventSource would, until all are in.
    const streams: Stream[] = [];
    await within(
      (async () => {
        while (streams.length < 29) {
          const res = await hub(`/v1/channels/${channel}/events`);
          const stream = new Stream(res);
          const text = await stream.until((t) => t.includes(': connected') || t.includes(': channel_full'));
          if (text.includes(': connected')) streams.push(stream);
          else await sleep(500);
        }
      })(),
      20_000,
      'all 29 subscribers in',
    );
    await eventually(async () => (await info(channel)).subscribers === 29, REPORT_MS + 3000, 'all counted');
    const refused = await hub(`/v1/channels/${channel}/events`);
    expect(refused.status).toBe(200);
    expect(await refused.text()).toBe('retry: 10000\n: channel_full\n\n');
    await closeAll(streams);
  });

  it("spreads a region's next subscribers over the relays the root named, for a while: even with a direct place free again", async () => {
    const channel = uniqueChannel();
    const [direct, relayed] = await subscribers(channel, 2);
    await direct!.close();
    await eventually(async () => (await info(channel)).subscribers === 1, 5000, 'the direct place to free');
    const [next] = await subscribers(channel, 1);
    // The Worker remembered that enam has one relay for REMEMBER_SECONDS and did not ask the root.
    expect(await served(channel, 'enam.0')).toBe(2);
    await closeAll([relayed!, next!]);
  });

  it('a relay with no subscribers lets go of the root: relays drops to 0', async () => {
    const channel = uniqueChannel();
    const [direct, relayed] = await subscribers(channel, 2);
    await eventually(async () => (await info(channel)).relays === 1, REPORT_MS + 3000, 'one relay');
    await relayed!.close();
    await eventually(async () => (await info(channel)).relays === 0, REPORT_MS + 3000, 'no relay');
    expect((await info(channel)).subscribers).toBe(1);
    await direct!.close();
  });
});

describe('failures', () => {
  it('delivers every event once, in order, across an abort of the root and every relay', async () => {
    const channel = uniqueChannel();
    const streams = await subscribers(channel, 4);
    await publishIds(channel, 'a');
    for (const s of streams) await s.until((t) => t.includes('id: 1\n'));
    await abortAllDurableObjects();
    await publishIds(channel, { events: [{ data: 'b' }, { data: 'c' }] });
    for (let i = 0; i < 3; i++) await publishIds(channel, `d${i}`);
    // Workers re-attach within a jittered second or two, relays to the root within ~5 s.
    for (const s of streams) await s.until((t) => t.includes('id: 6\n'), 20_000, 'the events after the abort');
    for (const s of streams) expect(ids(s)).toEqual([1, 2, 3, 4, 5, 6]);
    await closeAll(streams);
  });

  it.each([
    ['a relay', (channel: string) => relayOf(channel, 'enam.0')],
    ['the root', rootOf],
  ])('delivers every event once, in order, when %s alone restarts', async (_, stubOf) => {
    const channel = uniqueChannel();
    const streams = await subscribers(channel, 4);
    await publishIds(channel, 'a');
    for (const s of streams) await s.until((t) => t.includes('id: 1\n'));
    // ctx.abort(): the object's instance is reset, its sockets closed, as on a crash.
    await runInDurableObject(stubOf(channel), (_instance, state) => state.abort('test: restart')).catch(() => {});
    for (let i = 0; i < 4; i++) await publishIds(channel, `b${i}`);
    for (const s of streams) await s.until((t) => t.includes('id: 5\n'), 20_000, 'the events after the restart');
    await publishIds(channel, 'c');
    for (const s of streams) {
      await s.until((t) => t.includes('id: 6\n'));
      expect(ids(s)).toEqual([1, 2, 3, 4, 5, 6]);
    }
    await closeAll(streams);
  });

  it('catches a relay up from the root by id when its socket to the root drops: nothing lost, nothing twice', async () => {
    const channel = uniqueChannel();
    const streams = await subscribers(channel, 3);
    await publishIds(channel, 'a');
    // The root loses its relays' sockets (as when a connection between them breaks); events
    // published meanwhile reach the relay's subscribers once the relay re-attaches.
    await runInDurableObject(rootOf(channel), (_, state) => {
      for (const ws of state.getWebSockets('relay')) ws.close(1011, 'test: connection lost');
    });
    for (let i = 0; i < 5; i++) await publishIds(channel, `b${i}`);
    for (const s of streams) await s.until((t) => t.includes('id: 6\n'), 20_000, 'the events while the relay was away');
    await publishIds(channel, 'c');
    for (const s of streams) {
      await s.until((t) => t.includes('id: 7\n'));
      expect(ids(s)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    }
    await closeAll(streams);
  });

  it('closes every stream on every relay when the channel is deleted; a subscribe after it gets 204', async () => {
    const channel = uniqueChannel();
    const streams = await subscribers(channel, 5);
    await publishIds(channel, 'a');
    expect((await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    for (const s of streams) {
      const text = await s.end(5000);
      expect(text.endsWith('id: 1\ndata: a\n\nevent: close\ndata: {"reason":"deleted"}\n\n')).toBe(true);
    }
    expect((await hub(`/v1/channels/${channel}/events`)).status).toBe(204);
    expect((await hub(`/v1/channels/${channel}/events`, { headers: { 'Last-Event-ID': '1' } })).status).toBe(204);
  });

  it('cuts a slow subscriber on a relay as on the root, and it resumes exactly', async () => {
    const channel = uniqueChannel();
    const [fast] = await subscribers(channel, 1);
    const [slow] = await subscribers(channel, 1);
    expect(await served(channel, 'enam.0')).toBe(1);
    const chunk = 'x'.repeat(16_000);
    let published = 0;
    for (let round = 0; round < 200; round++) {
      const got = await publishIds(channel, { events: Array.from({ length: 4 }, () => ({ data: chunk })) });
      published = Number(got.at(-1));
      await fast!.until((t) => t.includes(`id: ${published}\n`), 5000, `event ${published} on the fast stream`);
      if ((await served(channel, 'enam.0')) === 0) break;
    }
    expect(await served(channel, 'enam.0')).toBe(0);
    // The relay counted the cut (the edge's close code) and reports it to the root.
    await eventually(async () => (await info(channel)).stats.cut === 1, REPORT_MS + 3000, 'the relay to report the cut');
    await slow!
      .until(() => false, 5000, 'the slow stream to end')
      .catch((err: Error) => {
        if (!/ended|abort|slow|error/i.test(String(err)) && err.message.startsWith('timed out')) throw err;
      });
    const received = ids(slow!);
    const last = received.at(-1) ?? 0;
    expect(last).toBeLessThan(published);
    // HISTORY_MAX_EVENTS is 50: resume from ten back, on the relay again.
    const resumed = await subscribe(channel, { headers: { 'Last-Event-ID': String(published - 10) } });
    expect((await resumed.events(10, 10_000)).map((e) => Number(e.id))).toEqual(Array.from({ length: 10 }, (_, i) => published - 9 + i));
    expect(await served(channel, 'enam.0')).toBe(1);
    await closeAll([fast!, slow!, resumed]);
  });
});

describe('between objects', () => {
  const upgrade = { headers: { Upgrade: 'websocket' } };

  it('a relay refuses an attach that does not name its channel and key, or names another', async () => {
    const channel = uniqueChannel();
    const relay = relayOf(channel, 'enam.0');
    const base = 'https://relay.herald/attach?v=1&as=relayed';
    for (const url of [
      `${base}&key=enam.0`,
      `${base}&channel=${channel}`,
      `${base}&channel=${channel}&key=mars.0`,
      `https://relay.herald/attach?v=1&channel=${channel}&key=enam.0`,
    ]) {
      const res = await relay.fetch(url, upgrade);
      expect([url, res.status, ((await res.json()) as { error: { code: string } }).error.code]).toEqual([url, 403, 'forbidden']);
    }
    // Its first attach makes it this channel's enam.0; another channel's name is refused after.
    const first = await relay.fetch(`${base}&channel=${channel}&key=enam.0`, upgrade);
    expect(first.status).toBe(101);
    first.webSocket!.accept();
    expect((await relay.fetch(`${base}&channel=other&key=enam.0`, upgrade)).status).toBe(403);
    expect((await relay.fetch(`${base}&channel=${channel}&key=enam.1`, upgrade)).status).toBe(403);
    first.webSocket!.close(1000, 'done');
  });

  it('the root refuses a relay attach with a made-up key or count, one beyond the capacity, and an attach of a kind it does not take', async () => {
    const root = rootOf(uniqueChannel());
    for (const query of ['as=relay&key=enam.x&count=0', 'as=relay&key=enam.0', 'as=relay&key=enam.0&count=-1', 'as=relayed&key=enam.0']) {
      const res = await root.fetch(`https://channel.herald/attach?v=1&${query}`, upgrade);
      expect([query, res.status]).toEqual([query, 403]);
    }
    // MAX_SUBSCRIBERS 29 = 1 direct + 14 relays of 2: a fifteenth is beyond the capacity.
    const beyond = await root.fetch('https://channel.herald/attach?v=1&as=relay&key=enam.14&count=0', upgrade);
    expect([beyond.status, ((await beyond.json()) as { error: { code: string } }).error.code]).toEqual([503, 'channel_full']);
  });

  it('closes with 4400 a subscriber socket that reports a count, at the root and at a relay', async () => {
    const channel = uniqueChannel();
    const sockets = [
      (await rootOf(channel).fetch('https://channel.herald/attach?v=1', upgrade)).webSocket!,
      (await relayOf(channel, 'enam.0').fetch(`https://relay.herald/attach?v=1&as=relayed&channel=${channel}&key=enam.0`, upgrade)).webSocket!,
    ];
    const codes = await Promise.all(
      sockets.map((ws) => {
        const closed = new Promise<[number, string]>((resolve) => ws.addEventListener('close', (e) => resolve([e.code, e.reason])));
        ws.accept();
        ws.send('{"v":1,"type":"count","n":1000}');
        return within(closed, 3000, 'the close');
      }),
    );
    expect(codes).toEqual([
      [4400, 'herald: only a relay reports a count'],
      [4400, 'herald: a subscriber sends no count'],
    ]);
  });

  it("takes nothing of a client's query into an attach: a subscriber cannot pose as a relay", async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel, {}, '?as=relay&key=enam.0&count=500');
    await stream.until((t) => t.includes(': connected'));
    await sleep(REPORT_MS);
    expect(await info(channel)).toMatchObject({ subscribers: 1, relays: 0 });
    await stream.close();
  });
});
