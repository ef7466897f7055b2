/**
 * What survives the hub going away: a clean restart (SIGTERM, like a deploy) and a crash
 * (SIGKILL of wrangler and its workerd processes), with Durable Object storage persisted
 * to a directory that the restarted hub reuses. Each test owns its directory and hubs.
 */
import { describe, expect, it } from 'vitest';
import { idRange, type Received } from './clients';
import { gatedClient, testSetup } from './restarts';
import { sleep, uniqueChannel, until, within } from './hub';

describe('docs/api.md "Resume" and "Retry": an EventSource rides out a hub restart by itself', () => {
  it('the same EventSource reconnects after SIGTERM and restart, sends Last-Event-ID: 3, and gets 4 and 5 once, in order', async () => {
    const setup = await testSetup();
    const first = await setup.start();
    const channel = uniqueChannel();
    // Reconnections wait until 4 and 5 are stored, so they can only come by replay.
    const { client, sent, hold, release } = gatedClient(first.eventsUrl(channel));

    await client.waitOpen(10_000);
    for (const n of [1, 2, 3]) expect((await first.publish(channel, `e${n}`)).ids).toEqual([String(n)]);
    await client.waitForCount(3, 10_000);

    hold();
    await first.stop();
    // The stream broke: EventSource says so with an error event and keeps reconnecting.
    await client.waitFor(() => client.errors >= 1, 10_000, 'an error event once the hub stopped');
    expect(client.source.readyState).toBe(client.source.CONNECTING);

    const second = await setup.start({ port: first.port });
    for (const n of [4, 5]) expect((await second.publish(channel, `e${n}`)).ids).toEqual([String(n)]);
    release();

    // retry: 2000 — the client comes back on its own and resumes after id 3.
    await client.waitForCount(5, 20_000);
    expect(client.opens).toBe(2);
    // Nothing more arrives afterwards (no late duplicate of 1..3 or of 4..5).
    await sleep(500);
    expect(client.events).toEqual<Received[]>(idRange(1, 5).map((id) => ({ type: 'message', id, data: `e${id}` })));
    expect(sent[0]!['Last-Event-ID']).toBeUndefined();
    expect(sent.slice(1).map((headers) => headers['Last-Event-ID'])).toEqual(Array(sent.length - 1).fill('3'));

    const history = await second.history(channel);
    expect(history.events.map((e) => [e.id, e.event, e.data])).toEqual(idRange(1, 5).map((id) => [id, 'message', `e${id}`]));
    expect(history.lastEventId).toBe('5');
    expect(history.oldestId).toBe('1');
  });
});

describe('docs/api.md "Publish": 201 is sent only after the event is durable; "IDs" are never reused', () => {
  it('SIGKILL right after a 201: the restarted hub has the event under the acknowledged id, and the next publish gets the next id', async () => {
    const setup = await testSetup();
    const first = await setup.start();
    const channel = uniqueChannel();
    expect((await first.publish(channel, 'one')).ids).toEqual(['1']);
    expect((await first.publish(channel, { events: [{ data: 'two' }, { data: 'three', event: 'named' }] })).ids).toEqual(['2', '3']);
    const acked = await first.publish(channel, 'acknowledged');
    await first.kill(); // at once: no shutdown, no flush
    expect(acked.ids).toEqual(['4']);

    const second = await setup.start();
    const history = await second.history(channel);
    expect(history.events.map((e) => [e.id, e.event, e.data])).toEqual([
      ['1', 'message', 'one'],
      ['2', 'message', 'two'],
      ['3', 'named', 'three'],
      ['4', 'message', 'acknowledged'],
    ]);
    expect((await second.publish(channel, 'after the crash')).ids).toEqual(['5']);
    const info = await second.info(channel);
    expect(info).toMatchObject({ lastEventId: '5', oldestId: '1', retained: 5 });
  });

  it('SIGKILL in the middle of 20 concurrent publishes: every acknowledged event survives with its id, and ids go on after the last stored one', async () => {
    const setup = await testSetup();
    const first = await setup.start();
    const channel = uniqueChannel();
    const attempts = Array.from({ length: 20 }, (_, i) => first.publish(channel, `burst-${i}`).then(({ ids }) => ({ id: ids[0]!, data: `burst-${i}` })));
    // Kill as soon as the first one is acknowledged, while the others are in flight.
    await within(Promise.any(attempts), 15_000, 'a first 201 in the burst');
    await first.kill();
    const settled = await Promise.allSettled(attempts);
    const acknowledged = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    expect(acknowledged.length).toBeGreaterThanOrEqual(1);

    const second = await setup.start();
    const { events } = await second.history(channel, { limit: 1000 });
    // What is stored is a gapless 1..k: each publish commits whole, in id order.
    const stored = events.map((e) => e.id);
    expect(stored).toEqual(idRange(1, stored.length));
    // An acknowledged event is there, with its data, under the id it was acknowledged with.
    const byId = new Map(events.map((e) => [e.id, e.data]));
    for (const { id, data } of acknowledged) expect(byId.get(id), `acknowledged id ${id}`).toBe(data);
    // Events stored but never acknowledged may be there; they are still distinct publishes.
    expect(new Set(events.map((e) => e.data)).size).toBe(events.length);

    const next = await second.publish(channel, 'after the crash');
    expect(next.ids).toEqual([String(stored.length + 1)]);
  });
});

describe('docs/api.md "Resume": a live-only EventSource cut off before its first event', () => {
  it('reconnects with the last id its stream opened with and gets what was published meanwhile', async () => {
    const setup = await testSetup();
    const first = await setup.start();
    const channel = uniqueChannel();
    for (const n of [1, 2]) await first.publish(channel, `old${n}`);
    const { client, sent, received, hold, release } = gatedClient(first.eventsUrl(channel));
    await client.waitOpen(10_000);
    // The stream's first block carries the channel's last id; stop only once it is here.
    await until(() => received().includes('id: 2\n'), 10_000, 'the opening block', { describe: received });

    hold();
    await first.stop();
    await client.waitFor(() => client.errors >= 1, 10_000, 'an error event once the hub stopped');
    const second = await setup.start({ port: first.port });
    for (const n of [3, 4]) expect((await second.publish(channel, `new${n}`)).ids).toEqual([String(n)]);
    release();

    await client.waitForCount(2, 20_000);
    await sleep(300);
    // Live only at first (no 1, 2), then exactly what it missed while away.
    expect(client.events).toEqual<Received[]>([
      { type: 'message', id: '3', data: 'new3' },
      { type: 'message', id: '4', data: 'new4' },
    ]);
    expect(sent[0]!['Last-Event-ID']).toBeUndefined();
    expect(sent.slice(1).map((headers) => headers['Last-Event-ID'])).toEqual(Array(sent.length - 1).fill('2'));
  });
});
