/**
 * A relay's short memory of the root's recent messages, so that a subscriber resuming
 * near the head of the channel (the usual reconnect) is served by the relay near it,
 * without a request to the root. Entries are whole messages as the root sent them, each
 * continuing from the one before (link.ts guarantees it); a cursor is served from here
 * when an entry begins at it. Pure: no sockets.
 */

export interface TailEntry {
  /** The id this entry continues from. */
  after: number;
  /** The id of its last event. */
  last: number;
  /** Its payload starts with a `gap` event (protocol.ts). */
  gap: boolean;
  /** Its SSE bytes, as the subscriber gets them. */
  payload: Uint8Array;
  /** The entry as a live message (protocol.ts), sent as is to every live subscriber. */
  wire: ArrayBuffer;
}

export class Tail {
  #entries: TailEntry[] = [];
  #bytes = 0;

  /** Keeps the newest entries up to `maxBytes` of payload (always the newest one). */
  constructor(private readonly maxBytes: number) {}

  push(entry: TailEntry): void {
    this.#entries.push(entry);
    this.#bytes += entry.payload.byteLength;
    while (this.#bytes > this.maxBytes && this.#entries.length > 1) {
      this.#bytes -= this.#entries.shift()!.payload.byteLength;
    }
  }

  clear(): void {
    this.#entries = [];
    this.#bytes = 0;
  }

  /** The id the oldest entry continues from, or null when empty. */
  get oldest(): number | null {
    return this.#entries[0]?.after ?? null;
  }

  /**
   * The entries after `cursor`, up to `maxBytes` of payload (at least one entry), when one
   * begins at `cursor`; null otherwise (the relay asks the root's log).
   */
  after(cursor: number, maxBytes: number): { payloads: Uint8Array[]; last: number; gap: boolean } | null {
    const entries = this.#entries;
    let lo = 0;
    let hi = entries.length - 1;
    // Entries are in id order: a binary search finds the one that begins at `cursor`.
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const after = entries[mid]!.after;
      if (after === cursor) {
        const payloads: Uint8Array[] = [];
        let size = 0;
        let last = cursor;
        for (let i = mid; i < entries.length; i++) {
          const entry = entries[i]!;
          if (payloads.length > 0 && size + entry.payload.byteLength > maxBytes) break;
          payloads.push(entry.payload);
          size += entry.payload.byteLength;
          last = entry.last;
        }
        return { payloads, last, gap: entries[mid]!.gap };
      }
      if (after < cursor) lo = mid + 1;
      else hi = mid - 1;
    }
    return null;
  }
}
