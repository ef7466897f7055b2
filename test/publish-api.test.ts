// docs/api.md "Publish": responses, ids, auth, limits and idempotency over HTTP.
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import worker from '../src/index';
import { AUTH, HUB, errorOf, hub, publish, publishIds, uniqueChannel } from './helpers';

async function info(channel: string) {
  return (await (await hub(`/v1/channels/${channel}`, { headers: AUTH })).json()) as {
    lastEventId: string | null;
    retained: number;
  };
}

describe('POST /v1/channels/{channel}/events', () => {
  it('answers 201 with the channel, the stamped ids and the subscriber count', async () => {
    const channel = uniqueChannel();
    const res = await publish(channel, { data: 'x' });
    expect(res.status).toBe(201);
    expect(res.headers.get('Content-Type')).toBe('application/json');
    expect(await res.text()).toBe(`{"channel":"${channel}","ids":["1"],"subscribers":0}`);
    expect(await publishIds(channel, { events: [{ data: 'a' }, { data: 'b' }] })).toEqual(['2', '3']);
    expect(await publishIds(channel, 'text body')).toEqual(['4']);
  });

  it('stamps ids 1…200 exactly once under 200 concurrent publishes', async () => {
    const channel = uniqueChannel();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => publishIds(channel, `p${i}`)));
    const ids = results
      .flat()
      .map(Number)
      .sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(await info(channel)).toMatchObject({ lastEventId: '200', retained: 200 });
  });

  it('keeps channels apart: each has its own sequence', async () => {
    const a = uniqueChannel();
    const b = uniqueChannel();
    expect(await publishIds(a, 'x')).toEqual(['1']);
    expect(await publishIds(b, 'y')).toEqual(['1']);
    expect(await publishIds(a, 'z')).toEqual(['2']);
  });

  const tooBig = 'x'.repeat(1024 * 1024 + 1);
  const nearlyMiB = JSON.stringify({ events: Array.from({ length: 17 }, () => ({ data: 'y'.repeat(62_000) })) });
  it.each([
    ['no Authorization', {}, 'x', 401, 'unauthorized'],
    ['a wrong key', { Authorization: 'Bearer wrong' }, 'x', 401, 'unauthorized'],
    ['malformed JSON', { ...AUTH, 'Content-Type': 'application/json' }, '{"data"', 400, 'invalid_json'],
    ['wrong-shaped JSON', { ...AUTH, 'Content-Type': 'application/json' }, '{"payload":1}', 400, 'invalid_payload'],
    ['an event name with LF', { ...AUTH, 'Content-Type': 'application/json' }, '{"data":"x","event":"a\\nb"}', 400, 'invalid_event'],
    ['a reserved event name', { ...AUTH, 'Content-Type': 'application/json' }, '{"data":"x","event":"gap"}', 400, 'invalid_event'],
    ['a body over 1 MiB', AUTH, tooBig, 413, 'payload_too_large'],
    ['a batch over 1 MiB', { ...AUTH, 'Content-Type': 'application/json' }, nearlyMiB, 413, 'payload_too_large'],
    ['an event over MAX_EVENT_BYTES', AUTH, 'z'.repeat(65_537), 413, 'payload_too_large'],
    ['a bad Idempotency-Key', { ...AUTH, 'Idempotency-Key': 'x'.repeat(201) }, 'x', 400, 'invalid_idempotency_key'],
  ])('refuses %s with %i %s, storing nothing', async (_, headers, body, status, code) => {
    const channel = uniqueChannel();
    const res = await hub(`/v1/channels/${channel}/events`, { method: 'POST', headers, body });
    const error = await errorOf(res);
    expect(error).toMatchObject({ status, code });
    expect(error.message.length).toBeGreaterThan(10);
    expect(await info(channel)).toMatchObject({ lastEventId: null, retained: 0 });
  });

  it('refuses invalid UTF-8 with 400 invalid_data', async () => {
    const channel = uniqueChannel();
    const res = await hub(`/v1/channels/${channel}/events`, { method: 'POST', headers: AUTH, body: new Uint8Array([0x68, 0xff, 0x69]) });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_data' });
  });

  it('refuses a batch of 101 with 413 and stores none of it', async () => {
    const channel = uniqueChannel();
    const res = await publish(channel, { events: Array.from({ length: 101 }, () => ({ data: 'x' })) });
    expect(await errorOf(res)).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(await info(channel)).toMatchObject({ lastEventId: null, retained: 0 });
  });

  it('stores none of a batch when one of its events is bad (all-or-nothing)', async () => {
    const channel = uniqueChannel();
    const res = await publish(channel, { events: [{ data: 'ok' }, { data: 'bad', event: 'no spaces' }] });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: 'invalid_event' });
    expect(await info(channel)).toMatchObject({ lastEventId: null, retained: 0 });
  });

  it('sends WWW-Authenticate with a 401', async () => {
    const res = await hub(`/v1/channels/${uniqueChannel()}/events`, { method: 'POST', body: 'x' });
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="herald"');
  });

  it('fails closed on a hub with no PUBLISH_KEY or JWT_SECRET: 503 auth_not_configured naming the secret', async () => {
    const bare = { ...env, PUBLISH_KEY: undefined, JWT_SECRET: undefined };
    const res = await worker.fetch(
      new Request(`${HUB}/v1/channels/${uniqueChannel()}/events`, { method: 'POST', headers: AUTH, body: 'x' }),
      bare,
      createExecutionContext(),
    );
    const error = await errorOf(res);
    expect(error).toMatchObject({ status: 503, code: 'auth_not_configured' });
    expect(error.message).toContain('wrangler secret put PUBLISH_KEY');
  });
});

describe('Idempotency-Key', () => {
  it('answers a retry with the original response and Idempotent-Replayed, storing nothing new', async () => {
    const channel = uniqueChannel();
    const headers = { 'Idempotency-Key': 'order-1' };
    const first = await publish(channel, { data: 'x' }, { headers });
    const firstBody = await first.text();
    expect(first.headers.get('Idempotent-Replayed')).toBeNull();
    await publishIds(channel, 'other');
    const again = await publish(channel, { data: 'x' }, { headers });
    expect(again.status).toBe(201);
    expect(again.headers.get('Idempotent-Replayed')).toBe('true');
    expect(await again.text()).toBe(firstBody);
    expect(await info(channel)).toMatchObject({ lastEventId: '2', retained: 2 });
  });

  it('refuses the same key with a different body with 422 idempotency_key_reused', async () => {
    const channel = uniqueChannel();
    const headers = { 'Idempotency-Key': 'k' };
    await publishIds(channel, { data: 'x' }, { headers });
    const res = await publish(channel, { data: 'y' }, { headers });
    expect(await errorOf(res)).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    const renamed = await publish(channel, { data: 'x', event: 'other' }, { headers });
    expect(await errorOf(renamed)).toMatchObject({ status: 422, code: 'idempotency_key_reused' });
    expect(await info(channel)).toMatchObject({ lastEventId: '1' });
  });

  it('stores one event for 20 concurrent requests with one key', async () => {
    const channel = uniqueChannel();
    const responses = await Promise.all(Array.from({ length: 20 }, () => publish(channel, { data: 'once' }, { headers: { 'Idempotency-Key': 'same' } })));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(201));
    expect(new Set(bodies)).toEqual(new Set([`{"channel":"${channel}","ids":["1"],"subscribers":0}`]));
    expect(responses.filter((r) => r.headers.get('Idempotent-Replayed') === 'true')).toHaveLength(19);
    expect(await info(channel)).toMatchObject({ lastEventId: '1', retained: 1 });
  });

  it('scopes keys to their channel', async () => {
    const headers = { 'Idempotency-Key': 'shared' };
    expect(await publishIds(uniqueChannel(), 'x', { headers })).toEqual(['1']);
    const other = uniqueChannel();
    const res = await publish(other, 'x', { headers });
    expect(res.headers.get('Idempotent-Replayed')).toBeNull();
  });

  it('forgets keys when the channel is deleted', async () => {
    const channel = uniqueChannel();
    const headers = { 'Idempotency-Key': 'k' };
    expect(await publishIds(channel, 'x', { headers })).toEqual(['1']);
    expect((await hub(`/v1/channels/${channel}`, { method: 'DELETE', headers: AUTH })).status).toBe(204);
    const res = await publish(channel, 'x', { headers });
    expect(res.headers.get('Idempotent-Replayed')).toBeNull();
    expect(await res.json()).toMatchObject({ ids: ['2'] });
  });
});
