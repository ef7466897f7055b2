/**
 * A subscriber's way to its channel, from the Worker that holds its stream: the channel's
 * own object (the root) serves up to RELAY_AFTER subscribers; past that, it names a relay
 * in the subscriber's region (relay.ts), and the route goes there. A re-attach goes back to
 * the same relay first, so a relay that restarts brings its subscribers back to itself,
 * not to the root; only a relay that is full sends them to the root to be placed again.
 */
import type { Env } from './channel';
import { attach, type Attached, type ChannelStub } from './link';
import type { Region } from './region';

/** Root → relay → full relay → root → another relay: past that, wait and come back. */
const MAX_HOPS = 4;

/**
 * The relay this Worker isolate last sent each channel's subscribers from each region to,
 * for as long as the root said it may be remembered (channel.ts): a hot channel's new
 * subscribers go straight there, and the root hears only of the first in each isolate, of
 * those a full relay sends back, and of those after the entry expires. Without it every
 * subscribe would be a request to the root (docs/scale.md). Until it expires, a root with a
 * free direct place may see a subscriber go to a relay instead.
 */
const lastRelay = new Map<string, { key: string; until: number }>();
/** Entries kept per isolate; past that the map starts over (it is only a shortcut). */
const LAST_RELAY_MAX = 10_000;

function remembered(channel: string, region: Region): string | null {
  const entry = lastRelay.get(`${region}/${channel}`);
  return entry !== undefined && entry.until > Date.now() ? entry.key : null;
}

function remember(channel: string, region: Region, key: string | null, ms = 0): void {
  const name = `${region}/${channel}`;
  if (key === null || ms <= 0) return void lastRelay.delete(name);
  if (lastRelay.size >= LAST_RELAY_MAX) lastRelay.clear();
  lastRelay.set(name, { key, until: Date.now() + ms });
}

export class ChannelRoute {
  /** The relay that serves this subscriber, once the root named one. */
  #relay: string | null;

  constructor(
    private readonly env: Env,
    readonly channel: string,
    readonly region: Region,
  ) {
    this.#relay = remembered(channel, region);
  }

  /** Attaches from `after` (null: live only) where the subscriber belongs. Never throws. */
  async attach(after: number | null): Promise<Attached> {
    let full: string | undefined;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      if (this.#relay !== null) {
        const key = this.#relay;
        const result = await attach(relayStub(this.env, this.channel, key), after, { as: 'relayed', channel: this.channel, key });
        if (result.kind !== 'full' && result.kind !== 'closed') return result.kind === 'relay' ? { kind: 'unavailable' } : result;
        // Full, or deleted (its root says which, and whether a new one has begun since).
        if (result.kind === 'full') full = key;
        this.#relay = null;
        remember(this.channel, this.region, null);
        continue;
      }
      const result = await attach(rootStub(this.env, this.channel), after, { as: 'subscriber', region: this.region, full });
      if (result.kind !== 'relay') {
        // Served by the root again (or refused): the next subscribers ask the root too.
        remember(this.channel, this.region, null);
        return result;
      }
      this.#relay = result.key;
      remember(this.channel, this.region, result.key, result.rememberMs);
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
  const region = key.slice(0, key.indexOf('.')) as Region;
  return env.RELAY.get(env.RELAY.idFromName(`${key}/${channel}`), { locationHint: region });
}
