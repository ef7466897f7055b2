/**
 * docs/api.md "Multi-channel subscribe" end to end: one `eventsource` EventSource on ten
 * channels of the real Worker under wrangler dev, through a hub restart that it rides out
 * by itself, resuming every channel from the cursor it last got.
 */
import { describe, expect, it } from 'vitest';
import { gatedClient, testSetup } from './restarts';
import { sleep, uniqueChannel, type Hub } from './hub';

const CHANNELS = 10;

/** Publishes `count` events to every channel, the channels concurrently, each in order. */
async function publishAll(hub: Hub, channels: readonly string[], round: string, count: number): Promise<void> {
  await Promise.all(
    channels.map(async (channel) => {
      for (let i = 0; i < count; i++) await hub.publish(channel, `${round}${i}`);
    }),
  );
}

/** [channel, own id, data] of every event, as the client got them. */
const unwrap = (events: ReadonlyArray<{ data: string }>) => events.map((e) => JSON.parse(e.data) as { channel: string; id: string; data: string });

describe('multi-channel: ten channels on one EventSource', () => {
  it('gets every channel in its order, and after a forced disconnect resumes exactly the missed events of each', async () => {
    const setup = await testSetup();
    const first = await setup.start();
    const channels = Array.from({ length: CHANNELS }, (_, i) => uniqueChannel(`multi${i}`));
    const url = `${first.url}/v1/events?${channels.map((c) => `channel=${c}`).join('&')}`;
    const { client, sent, hold, release } = gatedClient(url);
    await client.waitOpen(10_000);

    await publishAll(first, channels, 'a', 5);
    await client.waitForCount(CHANNELS * 5, 15_000);
    const cursorBefore = client.events.at(-1)!.id;
    expect(cursorBefore).toBe(channels.map(() => '5').join('.'));

    // The hub goes away mid-stream; reconnections wait until more is stored on every channel.
    hold();
    await first.stop();
    await client.waitFor(() => client.errors >= 1, 10_000, 'an error event once the hub stopped');
    const second = await setup.start({ port: first.port });
    await publishAll(second, channels, 'b', 3);
    release();

    await client.waitForCount(CHANNELS * 8, 30_000);
    await sleep(500); // nothing late or twice
    const got = unwrap(client.events);
    expect(got).toHaveLength(CHANNELS * 8);
    for (const channel of channels) {
      expect(got.filter((e) => e.channel === channel).map((e) => [e.id, e.data])).toEqual([
        ...[0, 1, 2, 3, 4].map((i) => [String(i + 1), `a${i}`]),
        ...[0, 1, 2].map((i) => [String(i + 6), `b${i}`]),
      ]);
    }
    expect(client.events.at(-1)!.id).toBe(channels.map(() => '8').join('.'));
    // The first connection had no cursor; every reconnection sent the one it last had.
    expect(sent[0]!['Last-Event-ID']).toBeUndefined();
    expect(sent.slice(1).map((h) => h['Last-Event-ID'])).toEqual(Array(sent.length - 1).fill(cursorBefore));
  });
});
