/**
 * A channel's counters (docs/api.md, "Channel info and delete": `stats`), as plain numbers.
 * The root keeps them in its storage, written in turns that already happen — a publish's
 * transaction, an attach, a close, a relay's report — never by a timer and never per
 * delivery: deliveries are derived (events × subscribers at each publish, plus each new
 * stream's backlog when it attaches). Pure: nothing here knows about storage or sockets.
 */

export const STAT_NAMES = ['published', 'publishRequests', 'idempotentReplays', 'deliveries', 'subscribes', 'resumes', 'gaps', 'cut'] as const;
export type StatName = (typeof STAT_NAMES)[number];
export type Stats = Record<StatName, number>;

/** What a relay counts for its own subscribers and adds to the root's counters in its reports. */
export const RELAYED_STAT_NAMES = ['deliveries', 'subscribes', 'resumes', 'gaps', 'cut'] as const;
export type RelayedStats = Record<(typeof RELAYED_STAT_NAMES)[number], number>;

/** How a stream's first attach to a channel says it opened; re-attaches say nothing. */
export type Opened = 'new' | 'resume';

export function emptyStats(): Stats {
  return { published: 0, publishRequests: 0, idempotentReplays: 0, deliveries: 0, subscribes: 0, resumes: 0, gaps: 0, cut: 0 };
}

export function emptyRelayedStats(): RelayedStats {
  return { deliveries: 0, subscribes: 0, resumes: 0, gaps: 0, cut: 0 };
}

/** `stats` with `delta` added (a new object: a failed transaction leaves the old one intact). */
export function addStats<T extends Partial<Stats>>(stats: T, delta: Partial<Stats>): T {
  const sum = { ...stats };
  for (const [name, n] of Object.entries(delta) as [StatName, number][]) sum[name] = (sum[name] ?? 0) + n;
  return sum;
}

export const isEmpty = (delta: Partial<Stats>): boolean => Object.values(delta).every((n) => n === 0);

/**
 * What a new stream's attach adds: one subscribe (and a resume), and the events it will be
 * replayed, `backlog`, counted now as delivered (derived: one that leaves mid-replay is
 * counted in full).
 */
export function attachStats(opened: Opened, backlog: number): Partial<Stats> {
  return { subscribes: 1, resumes: opened === 'resume' ? 1 : 0, deliveries: Math.max(0, backlog) };
}

/** A relay's reported counters, checked: each a whole number ≥ 0; anything else is null. */
export function parseRelayedStats(value: unknown): RelayedStats | null {
  if (typeof value !== 'object' || value === null) return null;
  const stats = emptyRelayedStats();
  for (const [name, n] of Object.entries(value)) {
    if (!(RELAYED_STAT_NAMES as readonly string[]).includes(name) || !Number.isSafeInteger(n) || (n as number) < 0) return null;
    stats[name as keyof RelayedStats] = n as number;
  }
  return stats;
}

export const isOpened = (text: string | null): text is Opened => text === 'new' || text === 'resume';
