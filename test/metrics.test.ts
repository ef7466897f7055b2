// src/metrics.ts directly: the data point layout of each kind (docs/operations.md,
// "Metrics"), the channel key, the cap of 250 points per request, and that writing never
// throws into a request.
import { describe, expect, it } from 'vitest';
import { MAX_POINTS_PER_REQUEST, Metrics, NO_CHANNEL, channelKey, encodePoint, type Point } from '../src/metrics';

/** A stand-in for the binding that keeps what is written. */
function recorder() {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, dataset: { writeDataPoint: (point?: AnalyticsEngineDataPoint) => void points.push(point!) } };
}

const orders = { name: 'orders', index: 'k' };

describe('encodePoint', () => {
  it.each<[string, Point, AnalyticsEngineDataPoint]>([
    [
      'publish, stored',
      { kind: 'publish', route: 'POST /v1/channels/{channel}/events', outcome: 'stored', events: 3, subscribers: 2 },
      { indexes: ['k'], blobs: ['publish', 'orders', 'POST /v1/channels/{channel}/events', 'stored'], doubles: [3, 2] },
    ],
    [
      'publish, an idempotent replay',
      { kind: 'publish', route: 'POST /v1/hooks/{channel}', outcome: 'replayed', events: 0, subscribers: 0 },
      { indexes: ['k'], blobs: ['publish', 'orders', 'POST /v1/hooks/{channel}', 'replayed'], doubles: [0, 0] },
    ],
    [
      'subscribe',
      { kind: 'subscribe', route: 'GET /v1/events', opened: 'resume', channels: 2 },
      { indexes: ['k'], blobs: ['subscribe', 'orders', 'GET /v1/events', 'resume'], doubles: [2] },
    ],
    [
      'cut',
      { kind: 'cut', route: 'GET /v1/channels/{channel}/events', channels: 1, unsentBytes: 70_000, openSeconds: 12 },
      { indexes: ['k'], blobs: ['cut', 'orders', 'GET /v1/channels/{channel}/events', ''], doubles: [1, 70_000, 12] },
    ],
    [
      'gap',
      { kind: 'gap', route: 'GET /v1/channels/{channel}/events', channels: 1 },
      { indexes: ['k'], blobs: ['gap', 'orders', 'GET /v1/channels/{channel}/events', ''], doubles: [1] },
    ],
    [
      'error',
      { kind: 'error', route: 'POST /v1/channels/{channel}/events', code: 'unauthorized', status: 401 },
      { indexes: ['k'], blobs: ['error', 'orders', 'POST /v1/channels/{channel}/events', 'unauthorized'], doubles: [401] },
    ],
  ])('lays out %s as documented', (_, point, expected) => {
    expect(encodePoint(point, orders)).toEqual(expected);
  });

  it('writes an empty index and channel for a point about no single channel', () => {
    expect(encodePoint({ kind: 'error', route: 'GET (no route)', code: 'not_found', status: 404 }, NO_CHANNEL)).toEqual({
      indexes: [''],
      blobs: ['error', '', 'GET (no route)', 'not_found'],
      doubles: [404],
    });
  });
});

describe('channelKey', () => {
  it.each([
    // printf %s <name> | sha256sum | cut -c1-32
    ['orders', '1c168adb00d208e42f93314529f1fa9c'],
    ['private-user-42:x', '85840d15ea1285efbcab87fce2f4caad'],
  ])('indexes %s by the first 16 bytes of its SHA-256, in hex', async (name, index) => {
    expect(await channelKey(name)).toEqual({ name, index });
  });

  it('keeps the index of the longest name within the 96 bytes an index may hold', async () => {
    const name = 'a'.repeat(128);
    const key = await channelKey(name);
    expect(key.name).toBe(name);
    expect(key.index).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('Metrics', () => {
  const point: Point = { kind: 'gap', route: 'GET /v1/channels/{channel}/events', channels: 1 };

  it(`writes at most ${MAX_POINTS_PER_REQUEST} points, then drops the rest without a word`, () => {
    const { points, dataset } = recorder();
    const metrics = new Metrics(dataset);
    for (let i = 0; i < MAX_POINTS_PER_REQUEST + 10; i++) metrics.write(point, orders);
    expect(points).toHaveLength(250);
  });

  it('counts the cap per Metrics, that is per request', () => {
    const { points, dataset } = recorder();
    for (const metrics of [new Metrics(dataset), new Metrics(dataset)]) {
      for (let i = 0; i < MAX_POINTS_PER_REQUEST; i++) metrics.write(point, orders);
    }
    expect(points).toHaveLength(500);
  });

  it('hashes the channel named in record() and writes it as the index', async () => {
    const { points, dataset } = recorder();
    await new Metrics(dataset).record(point, 'orders');
    await new Metrics(dataset).record(point, null);
    expect(points.map((p) => [p.indexes, p.blobs?.[1]])).toEqual([
      [['1c168adb00d208e42f93314529f1fa9c'], 'orders'],
      [[''], ''],
    ]);
  });

  it('does nothing without a dataset, and hashes nothing', async () => {
    const metrics = new Metrics(undefined);
    expect(metrics.bound).toBe(false);
    metrics.write(point, orders);
    await metrics.record(point, 'orders');
    expect(await metrics.keys(['orders'])).toEqual([{ name: 'orders', index: '' }]);
  });

  it('never throws into the request when the dataset does', async () => {
    const metrics = new Metrics({
      writeDataPoint: () => {
        throw new Error('dataset down');
      },
    });
    expect(() => metrics.write(point, orders)).not.toThrow();
    await expect(metrics.record(point, 'orders')).resolves.toBeUndefined();
  });
});
