// docs/api.md "Channel info and delete": the channel's `stats`, what each counter counts, that
// they survive eviction, reset with a delete, and need publish rights like the rest of info.
import { env } from 'cloudflare:workers';
import { evictDurableObject, runInDurableObject } from 'cloudflare:test';
import type { Channel } from '../src/channel';
import { describe, expect, it } from 'vitest';
import { AUTH, errorOf, eventually, hub, publish, publishIds, subscribe, uniqueChannel } from './helpers';

const stubOf = (channel: string) => env.CHANNEL.get(env.CHANNEL.idFromName(channel));

interface Stats {
  published: number;
  publishRequests: number;
  idempotentReplays: number;
  deliveries: number;
  subscribes: number;
  resumes: number;
  gaps: number;
  cut: number;
}

async function stats(channel: string): Promise<Stats> {
  const res = await hub(`/v1/channels/${channel}`, { headers: AUTH });
  expect(res.status).toBe(200);
  return ((await res.json()) as { stats: Stats }).stats;
}

const ZERO: Stats = { published: 0, publishRequests: 0, idempotentReplays: 0, deliveries: 0, subscribes: 0, resumes: 0, gaps: 0, cut: 0 };

describe('stats', () => {
  it('are all zero, with exactly the documented fields, on a channel nobody used', async () => {
    expect(await stats(uniqueChannel())).toEqual(ZERO);
  });

  it('count events, requests and deliveries to every subscriber, and streams opened', async () => {
    const channel = uniqueChannel();
    const [a, b] = [await subscribe(channel), await subscribe(channel)];
    await publishIds(channel, 'one');
    await publishIds(channel, { events: [{ data: 'two' }, { data: 'three' }] });
    await Promise.all([a.events(3), b.events(3)]);
    expect(await stats(channel)).toEqual({ ...ZERO, published: 3, publishRequests: 2, deliveries: 6, subscribes: 2 });
    await Promise.all([a.close(), b.close()]);
  });

  it('count an idempotent replay as such, not as a publish', async () => {
    const channel = uniqueChannel();
    const init = { headers: { 'Idempotency-Key': 'k-1' } };
    expect((await publish(channel, 'x', init)).status).toBe(201);
    const again = await publish(channel, 'x', init);
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    expect(await stats(channel)).toMatchObject({ published: 1, publishRequests: 1, idempotentReplays: 1 });
  });

  it('count a resume with Last-Event-ID or lastEventId, and its backlog as deliveries', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: '1' }, { data: '2' }, { data: '3' }, { data: '4' }] });
    const header = await subscribe(channel, { headers: { 'Last-Event-ID': '1' } });
    const query = await subscribe(channel, {}, '?lastEventId=3');
    expect((await header.events(3)).map((e) => e.id)).toEqual(['2', '3', '4']);
    expect((await query.events(1)).map((e) => e.id)).toEqual(['4']);
    expect(await stats(channel)).toMatchObject({ published: 4, deliveries: 3 + 1, subscribes: 2, resumes: 2, gaps: 0 });
    await Promise.all([header.close(), query.close()]);
  });

  it('count each channel of a multi-channel stream on that channel', async () => {
    const [a, b] = [uniqueChannel(), uniqueChannel()];
    const res = await hub(`/v1/events?channel=${a}&channel=${b}`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    await eventually(async () => (await stats(a)).subscribes === 1 && (await stats(b)).subscribes === 1, 3000, 'one subscribe on each');
  });

  it('survive eviction: the counters are stored, not kept in memory', async () => {
    const channel = uniqueChannel();
    const stream = await subscribe(channel);
    await publishIds(channel, 'a');
    await stream.events(1);
    await evictDurableObject(stubOf(channel));
    expect(await stats(channel)).toEqual({ ...ZERO, published: 1, publishRequests: 1, deliveries: 1, subscribes: 1 });
    await stream.close();
  });

  it('reset with the log when the channel is deleted', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'a');
    expect((await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    expect(await stats(channel)).toEqual(ZERO);
    await publishIds(channel, 'b');
    expect(await stats(channel)).toEqual({ ...ZERO, published: 1, publishRequests: 1 });
  });

  it('cost a publish no row written: its events carry them (rows written are billed, docs/cost.md)', async () => {
    const channel = uniqueChannel();
    const subscriber = await subscribe(channel);
    // Every row any statement writes while the object stores one publish, as SQLite counts them.
    const rowsWritten = (events: number) =>
      runInDurableObject(stubOf(channel), (instance: Channel, state) => {
        const sql = state.storage.sql;
        const exec = sql.exec;
        const cursors: SqlStorageCursor<Record<string, SqlStorageValue>>[] = [];
        sql.exec = ((query: string, ...bindings: unknown[]) => {
          const cursor = exec.call(sql, query, ...bindings);
          cursors.push(cursor);
          return cursor;
        }) as typeof sql.exec;
        try {
          instance.publish({ channel, events: Array.from({ length: events }, (_, i) => ({ event: 'message', data: `e${i}` })) });
        } finally {
          sql.exec = exec;
        }
        return cursors.reduce((n, c) => n + c.rowsWritten, 0);
      });
    expect(await rowsWritten(1)).toBe(1);
    expect(await rowsWritten(3)).toBe(3);
    expect(await stats(channel)).toMatchObject({ published: 4, publishRequests: 2, deliveries: 4 });
    await subscriber.close();
  });

  it("keep the last publish's counts when retention empties the log", async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    await runInDurableObject(stubOf(channel), (_: Channel, state) => {
      // Every event aged out: what the retention alarm does to an old log.
      state.storage.sql.exec('UPDATE events SET time = 0');
    });
    const info = (await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()) as { retained: number; stats: Stats };
    expect(info.retained).toBe(0);
    expect(info.stats).toEqual({ ...ZERO, published: 2, publishRequests: 1 });
    await evictDurableObject(stubOf(channel));
    expect(await stats(channel)).toEqual({ ...ZERO, published: 2, publishRequests: 1 });
  });

  it('need publish rights, like the rest of the channel info', async () => {
    expect(await errorOf(await hub(`/v1/channels/${uniqueChannel()}`))).toMatchObject({ status: 401, code: 'unauthorized' });
  });
});
