// docs/api.md "Multi-channel subscribe" under this project's small limits (vitest.config.ts):
// HEARTBEAT_SECONDS=1, MAX_SUBSCRIBERS=3, HISTORY_MAX_EVENTS=5, MAX_BUFFERED_BYTES=65536.
import { describe, expect, it } from 'vitest';
import { AUTH, Stream, hub, parseSse, publishIds, sleep, subscribe, uniqueChannel, within } from '../helpers';

const query = (channels: string[]) => `/v1/events?${channels.map((c) => `channel=${c}`).join('&')}`;

async function subscribeMany(channels: string[], init: RequestInit = {}): Promise<Stream> {
  const res = await hub(query(channels), init);
  if (res.status !== 200) throw new Error(`subscribe answered ${res.status}: ${await res.text()}`);
  return new Stream(res);
}

const subscribers = async (channel: string) =>
  ((await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()) as { subscribers: number }).subscribers;

describe('multi-channel limits', () => {
  it("sends a channel's gap with its channel, then what is retained", async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    await publishIds(a, { events: Array.from({ length: 8 }, (_, i) => ({ data: `a${i + 1}` })) });
    const stream = await subscribeMany([a, b], { headers: { 'Last-Event-ID': '1.0' } });
    const text = await stream.until((t) => t.includes('"a8"'));
    expect(text).toBe(
      'retry: 2000\nid: 1.0\n: connected\n\n' +
        `event: gap\ndata: {"channel":"${a}","lastEventId":"1","oldestId":"4","latestId":"8"}\n\n` +
        [4, 5, 6, 7, 8].map((i) => `id: ${i}.0\ndata: {"channel":"${a}","id":"${i}","data":"a${i}"}\n\n`).join(''),
    );
    await stream.close();
  });

  it('writes one heartbeat per silent interval, not one per channel', async () => {
    const stream = await subscribeMany([uniqueChannel('a'), uniqueChannel('b'), uniqueChannel('c')]);
    await stream.until((t) => t.includes(': connected'));
    await sleep(2600);
    await stream.until((t) => t.split(': heartbeat').length - 1 >= 2, 2000, 'two heartbeats');
    const beats = stream.text.split(': heartbeat\n\n').length - 1;
    // Three channels each beat every second; the merged stream passes on at most one a second.
    expect(beats).toBeGreaterThanOrEqual(2);
    expect(beats).toBeLessThanOrEqual(3);
    expect(stream.text.endsWith(': heartbeat\n\n')).toBe(true);
    await stream.close();
  });

  it('answers the channel_full wait (docs/api.md, "Busy hub") when one channel is full, and holds no place in the others', async () => {
    const [a, full] = [uniqueChannel('a'), uniqueChannel('full')];
    const streams = await Promise.all([subscribe(full), subscribe(full), subscribe(full)]);
    const res = await hub(query([a, full]));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('retry: 10000\n: channel_full\n\n');
    await within(
      (async () => {
        while ((await subscribers(a)) > 0) await sleep(50);
      })(),
      5000,
      "a's count to return to 0",
    );
    await Promise.all(streams.map((s) => s.close()));
  });

  it('is cut when a channel cuts it for not reading, and resumes every channel from its cursor with nothing lost', async () => {
    const [a, b] = [uniqueChannel('a'), uniqueChannel('b')];
    const stream = await subscribeMany([a, b]);
    await stream.until((t) => t.includes(': connected'));
    await publishIds(b, 'b1');
    await stream.until((t) => t.includes('"b1"'));
    // Nobody reads while a gets well over MAX_BUFFERED_BYTES (64 KiB). How much the transport
    // between the Worker and this reader holds varies, so publish until the hub lets go of the
    // stalled stream (its sockets to both objects close); bounded in count.
    const big = 'x'.repeat(25_000);
    let last = 0;
    for (let i = 0; i < 100 && (await subscribers(a)) > 0; i++) last = Number((await publishIds(a, big))[0]);
    expect(await subscribers(a)).toBe(0);
    expect(await subscribers(b)).toBe(0);
    last = Number((await publishIds(a, 'last'))[0]);
    // The stream ends (the cut drops what waited and closes it), rather than the wait running out.
    await stream.end(5000);
    expect(stream.ended).toBe(true);
    const got = parseSse(stream.text);
    const cursor = got.ids.at(-1)!;
    const resumed = await subscribeMany([a, b], { headers: { 'Last-Event-ID': cursor } });
    await resumed.until((t) => t.includes('"last"'), 5000, 'the last event');
    const ofA = (events: { event?: string | undefined; data: string }[]) =>
      events.map((e) => ({ event: e.event, ...(JSON.parse(e.data) as { channel: string; id?: string }) })).filter((e) => e.channel === a);
    const before = ofA(got.events).map((e) => Number(e.id));
    const after = ofA(parseSse(resumed.text).events);
    // Everything a still retains after the cursor comes once, in order; what retention
    // (HISTORY_MAX_EVENTS=5) dropped meanwhile is announced by a gap, never skipped silently.
    const had = before.at(-1) ?? 0;
    const first = Math.max(had + 1, last - 4); // the oldest retained, or the next one
    const replayed = after.filter((e) => e.event !== 'gap').map((e) => Number(e.id));
    expect(replayed).toEqual(Array.from({ length: last - first + 1 }, (_, i) => first + i));
    const gapped = after.some((e) => e.event === 'gap');
    expect(gapped).toBe(first > had + 1);
    if (!gapped) expect([...before, ...replayed]).toEqual(Array.from({ length: last }, (_, i) => i + 1));
    await resumed.close();
  });
});
