/**
 * Herald's data points in Workers Analytics Engine, written to the optional `METRICS`
 * binding (docs/operations.md, "Metrics": the schema below, and the SQL for each panel).
 * A point is written per request outcome and per stream event (opened, gap, cut), never
 * per delivery. Without the binding nothing is hashed or written, and writing never throws
 * into a request: a lost data point is better than a failed publish.
 *
 * Every point has the same first fields, so one query can span kinds:
 *   index1  the channel's key: the first 16 bytes of SHA-256(UTF-8 name), in hex ('' for none)
 *   blob1   the kind: publish | subscribe | cut | gap | error
 *   blob2   the channel's name ('' for none)
 *   blob3   the route, as docs/api.md writes it: `POST /v1/channels/{channel}/events`
 *   blob4   what happened, per kind (below)
 * and doubles per kind:
 *   publish    blob4 stored | replayed;  double1 events stored (0 on a replay), double2 subscribers it reached (0 on a replay)
 *   subscribe  blob4 new | resume;       double1 channels in the stream
 *   cut        blob4 '';                 double1 channels in the stream, double2 bytes unsent, double3 seconds the stream was open
 *   gap        blob4 '';                 double1 channels in the stream
 *   error      blob4 the error code;     double1 the HTTP status
 */
import type { ErrorCode } from './errors';
import type { Opened } from './stats';

/**
 * Analytics Engine takes at most 250 data points per Worker invocation
 * (developers.cloudflare.com/analytics/analytics-engine/limits/). A stream is one
 * invocation for its whole life, so its gaps and its cut count against the request that
 * opened it: past the cap, points are dropped, never the request.
 */
export const MAX_POINTS_PER_REQUEST = 250;
/** Bytes of the SHA-256 kept for the index: 32 hex characters, within the index's 96 bytes. */
const INDEX_BYTES = 16;

export type Point =
  | { kind: 'publish'; route: string; outcome: 'stored' | 'replayed'; events: number; subscribers: number }
  | { kind: 'subscribe'; route: string; opened: Opened; channels: number }
  | { kind: 'cut'; route: string; channels: number; unsentBytes: number; openSeconds: number }
  | { kind: 'gap'; route: string; channels: number }
  | { kind: 'error'; route: string; code: ErrorCode; status: number };

/**
 * A channel as the dataset keys it. The index is the sampling key, so each channel is
 * sampled on its own; it is a hash because an index holds at most 96 bytes and a name up to
 * 128 characters. The name itself goes in blob2, where queries read it.
 */
export interface ChannelKey {
  name: string;
  index: string;
}

/** The key of points that concern no single channel (a multi-channel refusal, an unknown route). */
export const NO_CHANNEL: ChannelKey = { name: '', index: '' };

const encoder = new TextEncoder();

export async function channelKey(name: string): Promise<ChannelKey> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(name)), 0, INDEX_BYTES);
  return { name, index: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('') };
}

/** `point` about `channel`, laid out as the schema above says. Pure. */
export function encodePoint(point: Point, channel: ChannelKey): AnalyticsEngineDataPoint {
  const fields = (detail: string, doubles: number[]): AnalyticsEngineDataPoint => ({
    indexes: [channel.index],
    blobs: [point.kind, channel.name, point.route, detail],
    doubles,
  });
  switch (point.kind) {
    case 'publish':
      return fields(point.outcome, [point.events, point.subscribers]);
    case 'subscribe':
      return fields(point.opened, [point.channels]);
    case 'cut':
      return fields('', [point.channels, point.unsentBytes, point.openSeconds]);
    case 'gap':
      return fields('', [point.channels]);
    case 'error':
      return fields(point.code, [point.status]);
  }
}

/** One request's writer: at most {@link MAX_POINTS_PER_REQUEST} points, none without a dataset. */
export class Metrics {
  readonly #dataset: AnalyticsEngineDataset | undefined;
  #left = MAX_POINTS_PER_REQUEST;

  constructor(dataset: AnalyticsEngineDataset | undefined) {
    this.#dataset = dataset;
  }

  /** False without a binding: callers skip work that only a point would need. */
  get bound(): boolean {
    return this.#dataset !== undefined;
  }

  /** The keys of `names`, in order; unhashed without a binding, since nothing will be written. */
  keys(names: readonly string[]): Promise<ChannelKey[]> {
    return this.bound ? Promise.all(names.map(channelKey)) : Promise.resolve(names.map((name) => ({ name, index: '' })));
  }

  /** Writes `point` about the channel named `channel` (null: none), hashing the name first. */
  async record(point: Point, channel: string | null): Promise<void> {
    if (!this.bound) return;
    this.write(point, channel === null ? NO_CHANNEL : await channelKey(channel));
  }

  /** Writes `point` with a key already computed: a stream's gaps and cut come from sync callbacks. */
  write(point: Point, key: ChannelKey): void {
    if (this.#dataset === undefined || this.#left <= 0) return;
    this.#left--;
    try {
      // Fire and forget (the runtime sends it after the response); a failure must not
      // reach the request that wrote it.
      this.#dataset.writeDataPoint(encodePoint(point, key));
    } catch {
      // Dropped: metrics are best effort.
    }
  }
}
