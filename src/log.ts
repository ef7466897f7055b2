/**
 * A channel's durable state in its Durable Object's SQLite storage: the replay log,
 * the id sequence, the closed flag, the idempotency keys and the counters (stats.ts). Every statement binds
 * its parameters; `sql.exec` is synchronous, so a caller that does not await between
 * calls gets them committed as one transaction.
 */

import { STAT_NAMES, emptyStats, type Stats } from './stats';

/** A retained event, as stored. `time` is milliseconds since the epoch. */
export interface StoredEvent {
  id: number;
  event: string;
  data: string;
  time: number;
}

/** A remembered publish: what was asked (a fingerprint) and what was answered. */
export interface IdempotencyRecord {
  fingerprint: string;
  response: string;
}

export interface Retention {
  maxEvents: number;
  maxAgeMs: number;
}

type Row = Record<string, SqlStorageValue>;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    stats TEXT
  );
  DROP INDEX IF EXISTS events_time;
  CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    response TEXT NOT NULL,
    expires INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS idempotency_expires ON idempotency (expires);
  CREATE TABLE IF NOT EXISTS stats (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    published INTEGER NOT NULL,
    publishRequests INTEGER NOT NULL,
    idempotentReplays INTEGER NOT NULL,
    deliveries INTEGER NOT NULL,
    subscribes INTEGER NOT NULL,
    resumes INTEGER NOT NULL,
    gaps INTEGER NOT NULL,
    cut INTEGER NOT NULL
  );
`;

/**
 * The counters live in two places, each written only where a row is written anyway: the
 * last event of each publish carries them all (JSON in `events.stats`), so a publish
 * writes no row more than its events; other changes (an attach, a cut, a relay's report)
 * save the one row of `stats`. Every counter only grows until a delete resets them all,
 * so the newer of the two is, counter by counter, the larger.
 */
const SAVE_STATS = `INSERT INTO stats (id, ${STAT_NAMES.join(', ')}) VALUES (1, ${STAT_NAMES.map(() => '?').join(', ')})
  ON CONFLICT (id) DO UPDATE SET ${STAT_NAMES.map((name) => `${name} = excluded.${name}`).join(', ')}`;

export class EventLog {
  readonly sql: SqlStorage;
  #lastId = 0;
  #closed = false;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
    this.sql.exec(SCHEMA);
    // A log created before the counters has no stats column: add it (once; it fails after).
    try {
      this.sql.exec('ALTER TABLE events ADD COLUMN stats TEXT');
    } catch {
      // It is there already.
    }
    this.#load();
  }

  /**
   * Runs `fn` as one transaction: all of it is stored or none. If it throws, the
   * in-memory sequence is read back from storage, so no id is skipped or reused.
   */
  transaction<T>(fn: () => T): T {
    try {
      return this.storage.transactionSync(fn);
    } catch (err) {
      this.#load();
      throw err;
    }
  }

  /**
   * The last id is the newest event's, or, while the log is empty, the one kept in `meta`
   * when it was last emptied: a publish writes only its events (SQLite rows written are
   * billed, docs/cost.md), and no id is ever reused.
   */
  #load(): void {
    const newest = this.sql.exec<{ id: number | null }>('SELECT MAX(id) AS id FROM events').one().id ?? 0;
    this.#lastId = Math.max(newest, this.#meta('last_id'));
    this.#closed = this.#meta('closed') === 1;
  }

  /** The last id ever issued (0 before the first publish). Survives deletes. */
  get lastId(): number {
    return this.#lastId;
  }

  /** The last id issued, or null before the first publish. */
  get latestId(): number | null {
    return this.#lastId === 0 ? null : this.#lastId;
  }

  /** True between a DELETE and the next publish. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The oldest retained id, or null when nothing is retained. */
  oldestId(): number | null {
    const row = this.sql.exec<{ id: number }>('SELECT id FROM events ORDER BY id LIMIT 1').toArray()[0];
    return row ? row.id : null;
  }

  /** How many events are retained: the log only ever loses a prefix, so its ids are contiguous. */
  retained(): number {
    const oldest = this.oldestId();
    return oldest === null ? 0 : this.#lastId - oldest + 1;
  }

  /**
   * Stores events with the next ids and reopens a closed channel. The last one carries
   * `stats`, the counters as they are with this publish counted.
   */
  append(events: ReadonlyArray<{ event: string; data: string }>, time: number, stats: Stats): StoredEvent[] {
    const last = events.length - 1;
    const stored = events.map(({ event, data }, i) => {
      const id = this.#lastId + i + 1;
      const counters = i === last ? JSON.stringify(stats) : null;
      this.sql.exec('INSERT INTO events (id, time, event, data, stats) VALUES (?, ?, ?, ?, ?)', id, time, event, data, counters);
      return { id, event, data, time };
    });
    this.#lastId += stored.length;
    if (this.#closed) {
      this.#closed = false;
      this.#setMeta('closed', 0);
    }
    return stored;
  }

  /** Up to `limit` retained events with ids larger than `after`, oldest first, read as iterated. */
  after(after: number, limit: number): Iterable<StoredEvent> {
    return this.sql.exec<Row>('SELECT id, event, data, time FROM events WHERE id > ? ORDER BY id LIMIT ?', after, limit) as unknown as Iterable<StoredEvent>;
  }

  /**
   * Like {@link after}, but stops once the data passes `maxBytes` (UTF-16 code units, a
   * cheap bound): at least one event, so a reader always moves on.
   */
  page(after: number, limit: number, maxBytes: number): StoredEvent[] {
    const page: StoredEvent[] = [];
    let size = 0;
    for (const event of this.after(after, limit)) {
      size += event.data.length;
      if (page.length > 0 && size > maxBytes) break;
      page.push(event);
    }
    return page;
  }

  /** Keeps only the newest `maxEvents` (≥ 1) events, so never empties the log: a key range, cheap enough for every publish. */
  trim(maxEvents: number): void {
    this.sql.exec('DELETE FROM events WHERE id <= ?', this.#lastId - maxEvents);
  }

  /**
   * Drops what retention no longer keeps: events past the count or the age, expired
   * idempotency keys. Returns when the next retained item expires, or null if none will.
   */
  prune({ maxEvents, maxAgeMs }: Retention, now: number): number | null {
    this.trim(maxEvents);
    // Ids grow with time, so the age limit also cuts a prefix: the rows before the oldest
    // one still young enough, read in id order (only the expired rows and one more), which
    // keeps the ids contiguous and needs no index on time (an index row is one more row
    // written per event).
    const young = this.sql.exec<{ id: number }>('SELECT id FROM events WHERE time > ? ORDER BY id LIMIT 1', now - maxAgeMs).toArray()[0];
    if (young === undefined) this.#empty();
    else this.sql.exec('DELETE FROM events WHERE id < ?', young.id);
    this.sql.exec('DELETE FROM idempotency WHERE expires <= ?', now);
    const oldest = this.sql.exec<{ t: number }>('SELECT time AS t FROM events ORDER BY id LIMIT 1').toArray()[0]?.t ?? null;
    const key = this.sql.exec<{ t: number | null }>('SELECT MIN(expires) AS t FROM idempotency').one().t;
    const times = [oldest === null ? null : oldest + maxAgeMs, key].filter((t): t is number => t !== null);
    return times.length ? Math.min(...times) : null;
  }

  /** The channel's counters as last saved; zero before the first save and after a delete. */
  stats(): Stats {
    const row = this.sql.exec<Stats>(`SELECT ${STAT_NAMES.join(', ')} FROM stats WHERE id = 1`).toArray()[0];
    const saved = row ? { ...row } : emptyStats();
    const published = this.#publishedStats();
    if (published === null) return saved;
    for (const name of STAT_NAMES) saved[name] = Math.max(saved[name], published[name] ?? 0);
    return saved;
  }

  /** The counters the newest event carries (the last publish's), if any is retained. */
  #publishedStats(): Partial<Stats> | null {
    const row = this.sql.exec<{ stats: string | null }>('SELECT stats FROM events ORDER BY id DESC LIMIT 1').toArray()[0];
    return row?.stats ? (JSON.parse(row.stats) as Partial<Stats>) : null;
  }

  saveStats(stats: Stats): void {
    this.sql.exec(SAVE_STATS, ...STAT_NAMES.map((name) => stats[name]));
  }

  /** Empties the log, forgets the keys and resets the counters; the id sequence goes on. */
  close(): void {
    this.#empty(false);
    this.sql.exec('DELETE FROM idempotency');
    this.sql.exec('DELETE FROM stats');
    this.#closed = true;
    this.#setMeta('closed', 1);
  }

  /** The remembered publish for `key`, if it has not expired. */
  idempotency(key: string, now: number): IdempotencyRecord | undefined {
    const row = this.sql
      .exec<{ fingerprint: string; response: string }>('SELECT fingerprint, response FROM idempotency WHERE key = ? AND expires > ?', key, now)
      .toArray()[0];
    return row;
  }

  remember(key: string, record: IdempotencyRecord, expires: number): void {
    this.sql.exec(
      'INSERT OR REPLACE INTO idempotency (key, fingerprint, response, expires) VALUES (?, ?, ?, ?)',
      key,
      record.fingerprint,
      record.response,
      expires,
    );
  }

  /**
   * Empties the log, keeping the last id in `meta` and the last publish's counters in
   * `stats` first: with no event left, they are their only record.
   */
  #empty(keepStats = true): void {
    if (this.oldestId() === null) return;
    if (this.#meta('last_id') !== this.#lastId) this.#setMeta('last_id', this.#lastId);
    if (keepStats && this.#publishedStats() !== null) this.saveStats(this.stats());
    this.sql.exec('DELETE FROM events');
  }

  #meta(key: string): number {
    const row = this.sql.exec<{ value: number }>('SELECT value FROM meta WHERE key = ?', key).toArray()[0];
    return row ? row.value : 0;
  }

  #setMeta(key: string, value: number): void {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
  }
}
