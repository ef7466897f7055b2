/**
 * Where the root sends a subscriber it does not serve itself: the first relay of the
 * subscriber's region that has room, by what the relays last said they hold plus whoever
 * the root sent them since shortly before (a relay says 0 when it first attaches, while
 * the subscribers sent to it are still on their way). Each relay also refuses past
 * RELAY_SIZE itself, and a Worker it refuses comes back to the root saying so (route.ts).
 *
 * What counts towards MAX_SUBSCRIBERS ({@link Placement.bound}) leans the same way, so
 * that nobody is let in past it: a relay counts with what it reported plus everyone sent
 * to it since shortly before its last report (whether or not the report has them yet); a relay whose
 * socket just closed keeps its last count while it comes back; and a relay that Workers
 * may remember (send subscribers straight to, for a while) counts as full until that
 * expires. Those grants are kept in storage ({@link Placement.grants}), so a root that
 * hibernates or restarts meanwhile still counts them.
 */
import type { Region } from './region';

/**
 * A subscriber sent to a relay counts towards the bound on its own until the relay reports
 * this long after it was sent (by then the report has it, or it never came).
 */
export const SENT_HOLD_MS = 1000;
/** A subscriber sent this long ago is in its relay's count by now (it reports within 2 s), or never came. */
export const SENT_FORGET_MS = 10_000;
/** How long a relay whose socket closed keeps its last count: its re-attach window and more. */
export const LEFT_HOLD_MS = 60_000;

export class Placement {
  /** When each subscriber not yet surely in its relay's count was sent there. */
  readonly #sent = new Map<string, number[]>();
  /** When each relay last said its count (a report, or its attach). */
  readonly #reportedAt = new Map<string, number>();
  /** Relays that refused a subscriber as full since their last report. */
  readonly #full = new Set<string>();
  /** Relays whose socket closed: their last count, until the time given. */
  readonly #left = new Map<string, { count: number; until: number }>();
  /** Relays Workers may send subscribers to without asking, until the time given. */
  readonly #remembered = new Map<string, number>();

  /** The key of the relay for the next subscriber from `region`; counts it as sent there. */
  place(region: Region, reported: (key: string) => number, size: number, now: number): string {
    for (let n = 0; ; n++) {
      const key = `${region}.${n}`;
      if (!this.#full.has(key) && reported(key) + this.#pending(key, now) < size) {
        const sent = this.#sent.get(key);
        if (sent) sent.push(now);
        else this.#sent.set(key, [now]);
        return key;
      }
    }
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
    this.#left.delete(key);
  }

  /** The relay refused a subscriber as full: nobody more goes there until it reports. */
  refused(key: string): void {
    this.#full.add(key);
  }

  /** The relay's socket closed: its subscribers still count while it comes back. */
  left(key: string, count: number, now: number): void {
    this.#left.set(key, { count, until: now + LEFT_HOLD_MS });
  }

  /**
   * Workers may send subscribers straight to `key` until `until` (ms since the epoch).
   * True when that extends what the root had stored by enough to store it again.
   */
  remember(key: string, until: number): boolean {
    const had = this.#remembered.get(key) ?? 0;
    if (until <= had) return false;
    this.#remembered.set(key, until);
    return until > had + 5000;
  }

  /** The grants to keep in storage, and to take back from it after a restart. */
  get grants(): Record<string, number> {
    return Object.fromEntries(this.#remembered);
  }

  restore(grants: Record<string, number> | undefined, now: number): void {
    for (const [key, until] of Object.entries(grants ?? {})) {
      if (typeof until === 'number' && until > now && until > (this.#remembered.get(key) ?? 0)) this.#remembered.set(key, until);
    }
  }

  /** The most subscribers the relays may hold now, or within the next moments. */
  bound(reported: ReadonlyMap<string, number>, size: number, now: number): number {
    for (const [key, until] of this.#remembered) if (until <= now) this.#remembered.delete(key);
    for (const [key, left] of this.#left) if (left.until <= now) this.#left.delete(key);
    let n = 0;
    for (const key of new Set([...reported.keys(), ...this.#sent.keys(), ...this.#left.keys(), ...this.#remembered.keys()])) {
      const known = (reported.get(key) ?? this.#left.get(key)?.count ?? 0) + this.#pending(key, now);
      n += this.#remembered.has(key) ? Math.max(known, size) : known;
    }
    return n;
  }
}
