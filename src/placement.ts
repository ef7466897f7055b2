/**
 * Where the root sends a subscriber it does not serve itself: the first relay of the
 * subscriber's region that has room, by what the relays last reported plus what the root
 * has sent them since. The estimate only aims: each relay refuses past RELAY_SIZE itself,
 * and a Worker it refuses comes back to the root saying so (route.ts).
 */
import type { Region } from './region';

export class Placement {
  /** Subscribers sent to each relay since its last report. */
  readonly #sent = new Map<string, number>();
  /** Relays that refused a subscriber as full since their last report. */
  readonly #full = new Set<string>();

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

  /** Subscribers sent to relays and not yet in any report. */
  get pending(): number {
    let n = 0;
    for (const sent of this.#sent.values()) n += sent;
    return n;
  }
}
