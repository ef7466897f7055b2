/**
 * Where the root sends a subscriber it does not serve itself: the first relay of the
 * subscriber's region that has room, by what the relays last reported plus what the root
 * has sent them since. The estimate only aims: each relay refuses past RELAY_SIZE itself,
 * and a Worker it refuses comes back to the root saying so (route.ts).
 *
 * A relay the root lets Workers remember (send subscribers straight to, for a while) may
 * fill up without the root hearing of each: until that expires, it counts as full towards
 * MAX_SUBSCRIBERS, so that no subscriber is ever let in past it.
 */
import type { Region } from './region';

export class Placement {
  /** Subscribers sent to each relay since its last report. */
  readonly #sent = new Map<string, number>();
  /** Relays that refused a subscriber as full since their last report. */
  readonly #full = new Set<string>();
  /** Relays Workers may send subscribers to without asking, until the time given. */
  readonly #remembered = new Map<string, number>();

  /** The key of the relay for the next subscriber from `region`; counts it as sent there. */
  place(region: Region, reported: (key: string) => number, size: number): string {
    for (let n = 0; ; n++) {
      const key = `${region}.${n}`;
      const sent = this.#sent.get(key) ?? 0;
      if (!this.#full.has(key) && reported(key) + sent < size) {
        this.#sent.set(key, sent + 1);
        return key;
      }
    }
  }

  /** The relay reported its count, which includes whoever it took since. */
  reported(key: string): void {
    this.#sent.delete(key);
    this.#full.delete(key);
  }

  /** The relay refused a subscriber as full: nobody more goes there until it reports. */
  refused(key: string): void {
    this.#sent.delete(key);
    this.#full.add(key);
  }

  /** Workers may send subscribers straight to `key` until `until` (ms since the epoch). */
  remember(key: string, until: number): void {
    this.#remembered.set(key, Math.max(until, this.#remembered.get(key) ?? 0));
  }

  /**
   * The most subscribers the relays can hold now: each by its report plus what was sent to
   * it since, or, while Workers may remember it, all of `size`.
   */
  bound(reported: ReadonlyMap<string, number>, size: number, now: number): number {
    let n = 0;
    for (const [key, until] of this.#remembered) if (until <= now) this.#remembered.delete(key);
    for (const key of new Set([...reported.keys(), ...this.#sent.keys(), ...this.#remembered.keys()])) {
      const known = (reported.get(key) ?? 0) + (this.#sent.get(key) ?? 0);
      n += this.#remembered.has(key) ? Math.max(known, size) : known;
    }
    return n;
  }
}
