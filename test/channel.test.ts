// docs/api.md "Channel info and delete", "Other", "Errors", and durability across eviction.
import { env } from 'cloudflare:workers';
import { createExecutionContext, evictDurableObject } from 'cloudflare:test';
import worker from '../src/index';
import { describe, expect, it } from 'vitest';
import { AUTH, errorOf, hub, publishIds, subscribe, uniqueChannel } from './helpers';

const stubOf = (channel: string) => env.CHANNEL.get(env.CHANNEL.idFromName(channel));

describe('GET /v1/channels/{channel}', () => {
  it('answers the last id, oldest id, retained count and subscribers', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }, { data: 'c' }] });
    const streams = await Promise.all([subscribe(channel), subscribe(channel)]);
    const res = await hub(`/v1/channels/${channel}`, { headers: AUTH });
    expect(res.status).toBe(200);
    // Two live-only streams opened after the publish: nothing delivered yet.
    const stats = '{"published":3,"publishRequests":1,"idempotentReplays":0,"deliveries":0,"subscribes":2,"resumes":0,"gaps":0,"cut":0}';
    expect(await res.text()).toBe(`{"channel":"${channel}","lastEventId":"3","oldestId":"1","retained":3,"subscribers":2,"relays":0,"stats":${stats}}`);
    await Promise.all(streams.map((s) => s.close()));
  });

  it('answers null ids for a channel never published to', async () => {
    const channel = uniqueChannel();
    expect(await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()).toEqual({
      channel,
      lastEventId: null,
      oldestId: null,
      retained: 0,
      subscribers: 0,
      relays: 0,
      stats: { published: 0, publishRequests: 0, idempotentReplays: 0, deliveries: 0, subscribes: 0, resumes: 0, gaps: 0, cut: 0 },
    });
  });

  it('needs publish rights', async () => {
    expect(await errorOf(await hub(`/v1/channels/${uniqueChannel()}`))).toMatchObject({ status: 401, code: 'unauthorized' });
  });
});

describe('DELETE /v1/channels/{channel}', () => {
  it('sends close to open streams, ends them, purges the log and answers 204', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    const stream = await subscribe(channel);
    const res = await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH });
    expect(res.status).toBe(204);
    expect(await stream.end()).toBe('retry: 2000\nid: 2\n: connected\n\nevent: close\ndata: {"reason":"deleted"}\n\n');
    expect(stream.ended).toBe(true);
    expect(await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()).toMatchObject({
      lastEventId: '2',
      oldestId: null,
      retained: 0,
      subscribers: 0,
      relays: 0,
      stats: { published: 0, publishRequests: 0, idempotentReplays: 0, deliveries: 0, subscribes: 0, resumes: 0, gaps: 0, cut: 0 },
    });
  });

  it('answers subscribes with 204 until the next publish reopens the channel, whose ids go on', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH });
    const closed = await hub(`/v1/channels/${channel}/events`);
    expect(closed.status).toBe(204);
    expect(await closed.text()).toBe('');
    expect(await publishIds(channel, 'c')).toEqual(['3']);
    const stream = await subscribe(channel, {}, '?lastEventId=0');
    expect(await stream.events(1)).toEqual([{ id: '3', event: undefined, data: 'c' }]);
    await stream.close();
  });

  it('sends a gap, not old events, to a client resuming from before the delete', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH });
    await publishIds(channel, 'c');
    const stream = await subscribe(channel, { headers: { 'Last-Event-ID': '1' } });
    const events = await stream.events(2);
    expect(events).toEqual([
      { id: undefined, event: 'gap', data: '{"lastEventId":"1","oldestId":"3","latestId":"3"}' },
      { id: '3', event: undefined, data: 'c' },
    ]);
    await stream.close();
  });

  it('needs publish rights and leaves the channel as it was without them', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, 'a');
    expect(await errorOf(await hub(`/v1/channels/${channel}`, { method: 'DELETE' }))).toMatchObject({ status: 401 });
    expect(await publishIds(channel, 'b')).toEqual(['2']);
  });
});

describe('durability', () => {
  it('keeps acknowledged events and the sequence when the object is evicted', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b\nc', event: 'x' }] });
    await evictDurableObject(stubOf(channel));
    const stream = await subscribe(channel, {}, '?lastEventId=0');
    expect(await stream.events(2)).toEqual([
      { id: '1', event: undefined, data: 'a' },
      { id: '2', event: 'x', data: 'b\nc' },
    ]);
    await stream.close();
    expect(await publishIds(channel, 'd')).toEqual(['3']);
  });

  it('never reuses ids after a delete, also across eviction', async () => {
    const channel = uniqueChannel();
    await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] });
    await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH });
    await evictDurableObject(stubOf(channel));
    expect((await hub(`/v1/channels/${channel}/events`)).status).toBe(204);
    expect(await publishIds(channel, 'c')).toEqual(['3']);
  });
});

describe('other routes', () => {
  it('answers GET /healthz with {"ok":true}', async () => {
    const res = await hub('/healthz');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"ok":true}');
  });

  it('answers 500 invalid_config naming a bad var', async () => {
    const res = await worker.fetch(new Request('http://hub.test/healthz'), { ...env, HEARTBEAT_SECONDS: 'soon' }, createExecutionContext());
    expect(await errorOf(res)).toEqual({
      status: 500,
      code: 'invalid_config',
      message: "HEARTBEAT_SECONDS must be a whole number ≥ 1, got 'soon'",
    });
  });

  it('answers an unknown route with a JSON 404', async () => {
    expect(await errorOf(await hub('/v2/nothing'))).toMatchObject({ status: 404, code: 'not_found' });
  });

  it.each([
    ['PUT', '/v1/channels/a/events', 'GET, POST'],
    ['PATCH', '/v1/channels/a', 'GET, DELETE'],
    ['POST', '/healthz', 'GET'],
  ])('answers %s %s with 405 and Allow', async (method, path, allow) => {
    const res = await hub(path, { method, headers: AUTH, body: 'x' });
    expect(await errorOf(res)).toMatchObject({ status: 405, code: 'method_not_allowed' });
    expect(res.headers.get('Allow')).toBe(allow);
  });
});
