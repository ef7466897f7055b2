/**
 * Where the root sends a subscriber it does not serve itself, and how many relays a
 * channel may have.
 *
 * The relays of a region are numbered from 0 (`weur.0`, `weur.1`…); the root names them in
 * order and never more than the channel's capacity allows: RELAY_AFTER direct subscribers
 * plus `maxRelays` relays of RELAY_SIZE make at most MAX_SUBSCRIBERS. Each relay refuses
 * past RELAY_SIZE itself, so MAX_SUBSCRIBERS holds by construction, whoever sends
 * subscribers where: the root, or Workers spreading their subscribers over a region's
 * relays without asking (route.ts).
 *
 * Within that, the root aims: the first relay of the region that has room by what it last
 * said it holds plus whoever the root sent it since shortly before (a relay says 0 when it
 * first attaches, while the subscribers sent to it are still on their way); a relay that
 * refused a subscriber as full gets nobody more until it reports again.
 */
import { parseRelayKey } from './protocol';
import { REGIONS, type Region } from './region';

/**
 * A subscriber sent to a relay counts on its own until the relay reports this long after
 * it was sent (by then the report has it, or it never came)…
 */
export const SENT_HOLD_MS = 1000;
/** …and at most this long (the relay reports within 2 s of any change). */
export const SENT_FORGET_MS = 10_000;

/** What the root knows of a relay now: the count it last said, absent when not attached. */
export type Reported = (key: string) => number | undefined;

export class Placement {
  /** When each subscriber not yet surely in its relay's count was sent there. */
  readonly #sent = new Map<string, number[]>();
  /** When each relay last said its count (a report, or its attach). */
  readonly #reportedAt = new Map<string, number>();
  /** Relays that refused a subscriber as full since their last report. */
  readonly #full = new Set<string>();
  /** Relays named so far in each region: keys `<region>.0` up to `<region>.<n - 1>`. */
  readonly #named = new Map<Region, number>();

  named(region: Region): number {
    return this.#named.get(region) ?? 0;
  }

  /**
   * The relays of each region in use within `maxRelays`: the named ones, less the highest
   * numbers of the largest regions when more were named than the capacity has now (after
   * a deploy that lowered MAX_SUBSCRIBERS or raised RELAY_SIZE).
   */
  allowed(maxRelays: number): Map<Region, number> {
    const allowed = new Map(this.#named);
    for (let excess = this.total - maxRelays; excess > 0; excess--) {
      let largest: Region | undefined;
      for (const [region, n] of allowed) if (largest === undefined || n > allowed.get(largest)!) largest = region;
      allowed.set(largest!, allowed.get(largest!)! - 1);
    }
    return allowed;
  }

  /**
   * Whether a relay attaching with `key` is within the capacity: one already named and
   * allowed, or one more that still fits (a Worker may know of it before the root does).
   */
  admits(key: string, maxRelays: number): boolean {
    const { region, index } = parseRelayKey(key);
    if (index < (this.allowed(maxRelays).get(region) ?? 0)) return true;
    if (this.total - this.named(region) + index + 1 > maxRelays) return false;
    this.#named.set(region, index + 1);
    return true;
  }

  /** Relays named in every region: what the capacity counts. */
  get total(): number {
    let n = 0;
    for (const count of this.#named.values()) n += count;
    return n;
  }

  /**
   * The relay for the next subscriber from `region`, counted as sent there: one of the
   * region's with room, else a new one while `maxRelays` allows, else one of another
   * region's with room; null when the channel is full.
   */
  place(region: Region, reported: Reported, size: number, maxRelays: number, now: number): string | null {
    const allowed = this.allowed(maxRelays);
    const hasRoom = (key: string) => !this.#full.has(key) && (reported(key) ?? 0) + this.#pending(key, now) < size;
    const withRoom = (r: Region) => {
      for (let n = 0; n < (allowed.get(r) ?? 0); n++) if (hasRoom(`${r}.${n}`)) return `${r}.${n}`;
      return undefined;
    };
    let key = withRoom(region);
    if (key === undefined && this.total < maxRelays) {
      key = `${region}.${this.named(region)}`;
      this.#named.set(region, this.named(region) + 1);
    }
    for (const other of REGIONS) key ??= withRoom(other);
    if (key === undefined) return null;
    const sent = this.#sent.get(key);
    if (sent) sent.push(now);
    else this.#sent.set(key, [now]);
    return key;
  }

  /**
   * Subscribers sent to `key` that its last count may not include: those sent after
   * {@link SENT_HOLD_MS} before it, and in the last {@link SENT_FORGET_MS}.
   */
  #pending(key: string, now: number): number {
    const sent = this.#sent.get(key);
    if (!sent) return 0;
    const since = Math.max((this.#reportedAt.get(key) ?? 0) - SENT_HOLD_MS, now - SENT_FORGET_MS);
    let old = 0;
    while (old < sent.length && sent[old]! <= since) old++;
    if (old > 0) sent.splice(0, old);
    if (sent.length === 0) this.#sent.delete(key);
    return sent.length;
  }

  /** The relay attached or reported its count. */
  reported(key: string, now: number): void {
    this.#reportedAt.set(key, now);
    this.#full.delete(key);
  }

  /** The relay refused a subscriber as full: nobody more goes there until it reports. */
  refused(key: string): void {
    this.#full.add(key);
  }

  /** The relays named per region, to keep in storage… */
  get counts(): Partial<Record<Region, number>> {
    return Object.fromEntries(this.#named);
  }

  /** …and to take back after a restart: a relay once named may still be in use. */
  restore(counts: Partial<Record<Region, number>> | undefined): void {
    for (const region of REGIONS) {
      const n = counts?.[region];
      if (typeof n === 'number' && Number.isSafeInteger(n) && n > this.named(region) && n <= MAX_NAMED) this.#named.set(region, n);
    }
  }
}

/** More relays than a region can name (keys end in at most 7 digits): a stored count past it is not ours. */
const MAX_NAMED = 10_000_000;
