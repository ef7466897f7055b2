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

export class ChannelRoute {
  /** The relay that serves this subscriber, once the root named one. */
  #relay: string | null = null;

  constructor(
    private readonly env: Env,
    readonly channel: string,
    readonly region: Region,
  ) {}

  /** Attaches from `after` (null: live only) where the subscriber belongs. Never throws. */
  async attach(after: number | null): Promise<Attached> {
    let full: string | undefined;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      if (this.#relay !== null) {
        const key = this.#relay;
        const result = await attach(relayStub(this.env, this.channel, key), after, { as: 'relayed', channel: this.channel, key });
        if (result.kind !== 'full') return result.kind === 'relay' ? { kind: 'unavailable' } : result;
        full = key;
        this.#relay = null;
        continue;
      }
      const result = await attach(rootStub(this.env, this.channel), after, { as: 'subscriber', region: this.region, full });
      if (result.kind !== 'relay') return result;
      this.#relay = result.key;
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
