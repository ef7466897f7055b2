/**
 * A subscriber's way to its channel, from the Worker that holds its stream: the channel's
 * own object (the root) serves up to RELAY_AFTER subscribers; past that, it names a relay
 * in the subscriber's region (relay.ts), and the route goes there. A re-attach goes back to
 * the same relay first, so a relay that restarts brings its subscribers back to itself,
 * not to the root; only a relay that is full sends them to the root to be placed again.
 */
import type { Env } from './channel';
import { attach, type Attached, type ChannelStub } from './link';
import { parseRelayKey } from './protocol';
import type { Region } from './region';
import type { Opened } from './stats';

/** Attempts per attach (root, relays full, root again…): past that, wait and come back. */
const MAX_HOPS = 6;
/** Relays a new subscriber tries from what the Worker remembers, before asking the root. */
const GUESSES = 2;

/**
 * How many relays each channel has in each region, as the root last told this Worker
 * isolate, for as long as it said: a hot channel's new subscribers are spread over them at
 * random without a request to the root, which then hears only of the first subscriber in
 * each isolate and of those that found two full relays. After a deploy, when every
 * subscriber comes back at once, that keeps the root out of the way (docs/scale.md).
 * MAX_SUBSCRIBERS holds whatever Workers do: the root names no more relays than the
 * capacity has, and each relay refuses past RELAY_SIZE (placement.ts).
 */
const known = new Map<string, { relays: number; until: number }>();
/** Entries kept per isolate; past that the map starts over (it is only a shortcut). */
const KNOWN_MAX = 10_000;

/** A relay of the region to try, at random, other than `not`; null when none is known. */
function guess(channel: string, region: Region, not?: string): string | null {
  const entry = known.get(`${region}/${channel}`);
  if (entry === undefined || entry.until <= Date.now()) return null;
  const key = (n: number) => `${region}.${n}`;
  const first = Math.floor(Math.random() * entry.relays);
  if (key(first) !== not) return key(first);
  // Another one than `not`, when there is another.
  return entry.relays > 1 ? key((first + 1) % entry.relays) : null;
}

/**
 * A request to the root for a region's first subscriber in this isolate, while it is on
 * its way: the subscribers that come meanwhile wait for its answer and then spread, rather
 * than each asking the root (after a deploy, every subscriber comes back at once).
 */
const asking = new Map<string, Promise<unknown>>();

function remember(channel: string, region: Region, relays: number, ms: number): void {
  const name = `${region}/${channel}`;
  if (relays <= 0 || ms <= 0) return void known.delete(name);
  if (known.size >= KNOWN_MAX) known.clear();
  known.set(name, { relays, until: Date.now() + ms });
}

export class ChannelRoute {
  /** The relay that serves (or is to serve) this subscriber. */
  #relay: string | null;

  constructor(
    private readonly env: Env,
    readonly channel: string,
    readonly region: Region,
  ) {
    this.#relay = guess(channel, region);
  }

  /**
   * Attaches from `after` (null: live only) where the subscriber belongs. Never throws.
   * `opened`: this attach opens the subscriber's stream (for the channel's counters).
   */
  async attach(after: number | null, opened?: Opened): Promise<Attached> {
    const name = `${this.region}/${this.channel}`;
    if (this.#relay === null && asking.has(name)) {
      await asking.get(name);
      this.#relay = guess(this.channel, this.region);
    }
    let full: string | undefined;
    let guesses = this.#relay === null ? 0 : 1;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      if (this.#relay !== null) {
        const key = this.#relay;
        const result = await attach(relayStub(this.env, this.channel, key), after, { as: 'relayed', channel: this.channel, key, opened });
        if (result.kind !== 'full' && result.kind !== 'closed') return result.kind === 'relay' ? { kind: 'unavailable' } : result;
        // Full: try another, then the root. Deleted: its root says which, and whether a new one has begun since.
        if (result.kind === 'full') full = key;
        else remember(this.channel, this.region, 0, 0);
        this.#relay = result.kind === 'full' && guesses < GUESSES ? guess(this.channel, this.region, key) : null;
        if (this.#relay !== null) guesses++;
        continue;
      }
      const request = attach(rootStub(this.env, this.channel), after, { as: 'subscriber', region: this.region, full, opened });
      if (!asking.has(name)) {
        asking.set(name, request);
        void request.finally(() => asking.delete(name));
      }
      const result = await request;
      if (result.kind !== 'relay') {
        // Served by the root, which says whether the region has relays to spread over; or
        // the channel is gone. (A busy or full root says nothing about the relays.)
        if (result.kind === 'open') remember(this.channel, this.region, result.relays ?? 0, result.rememberMs ?? 0);
        if (result.kind === 'closed') remember(this.channel, this.region, 0, 0);
        return result;
      }
      this.#relay = result.key;
      remember(this.channel, this.region, result.relays, result.rememberMs);
    }
    return { kind: 'unavailable' };
  }
}

/** The channel's own object: its log, its ids, its direct subscribers and its relays. */
export function rootStub(env: Env, channel: string): DurableObjectStub<import('./channel').Channel> {
  return env.CHANNEL.get(env.CHANNEL.idFromName(channel));
}

/**
 * A relay of `channel`: named by the channel and its key (`weur.3`), in its own namespace,
 * so no channel name can ever address it; created near its region.
 */
export function relayStub(env: Env, channel: string, key: string): ChannelStub {
  return env.RELAY.get(env.RELAY.idFromName(`${key}/${channel}`), { locationHint: parseRelayKey(key).region });
}
