/**
 * The types a subscription's modules share: what `subscribe()` takes, what it hands back,
 * and how it ends. A module of their own, so that subscribe.ts and connection.ts both
 * use them without importing each other.
 */
import type { BackoffOptions } from './backoff.ts';
import type { HeraldError } from './errors.ts';
import type { Fetch } from './fetch.ts';
import type { Gap, HeraldEvent, Wait } from './messages.ts';

export interface SubscribeOptions {
  /** One channel: `GET /v1/channels/{channel}/events`. Give exactly one of `channel` and `channels`. */
  channel?: string;
  /** Up to 16 channels in one stream: `GET /v1/events?channel=…` (docs/api.md). */
  channels?: readonly string[];
  /** Sent as `Authorization: Bearer <token>`: a subscribe token, needed for `private-` channels. */
  token?: string;
  /** More request headers (not Last-Event-ID: see `lastEventId`). */
  headers?: Record<string, string>;
  /**
   * Resume after this point: an event id on one channel, a cursor (`12.0.7`, from
   * {@link HeraldEvent.cursor} or {@link Subscription.lastEventId}) on several; `'0'` asks
   * for everything retained. Absent: live only.
   */
  lastEventId?: string;
  /** Aborting it ends the subscription, as {@link Subscription.close} does. */
  signal?: AbortSignal;
  /** Each event, in order, exactly once. Throwing ends the subscription (`closed` resolves with the error). */
  onEvent(event: HeraldEvent): void;
  /** Events after `gap.lastEventId` were no longer retained; the ones that are follow. */
  onGap?(gap: Gap): void;
  /**
   * A channel of the subscription was deleted (its `close` event); called once per channel.
   * On one channel `onClose` with `deleted` follows; on several the others go on, and the
   * subscription ends once every one of them is deleted.
   */
  onChannelClose?(channel: string): void;
  /** The hub's stream opened (its first bytes past a `retry:`, which a wait starts with too), on every connection. */
  onOpen?(): void;
  /**
   * The hub asked to come back later instead of opening the stream: the channel (on several,
   * one of them) is full, or `unavailable` for a moment. Not an error: the subscription
   * reconnects by itself after `delayMs` (the hub's `retry:`, plus up to 10 % jitter), with
   * the same `lastEventId`. Throwing ends the subscription, as onEvent's exceptions do.
   */
  onWait?(wait: Wait): void;
  /** A connection failed. `willRetry` false: the subscription is over and `onClose` follows. */
  onError?(error: HeraldError | Error, info: ErrorInfo): void;
  /**
   * The subscription is over, for the reason given; called once. What it throws goes to
   * `console.error`: `closed` still resolves with the reason.
   */
  onClose?(reason: CloseReason): void;
  /** Reconnection delays; the hub's `retry:` replaces `initialMs` as the base once it is known. */
  backoff?: BackoffOptions;
  /**
   * A connection on which no bytes arrive for this long (not even the hub's heartbeat) is
   * dropped and reconnected like a broken one, resuming from {@link Subscription.lastEventId};
   * `onError` says it was idle. Default 45000: three of the hub's default 15 s heartbeats
   * (keep it above the hub's HEARTBEAT_SECONDS). 0: never.
   */
  idleTimeoutMs?: number;
  /** Replaces the platform's fetch (tests, proxies). */
  fetch?: Fetch;
}

export interface ErrorInfo {
  /** False when this error is final: no reconnection follows. */
  willRetry: boolean;
  /** The wait before the next connection, when there is one. */
  delayMs?: number;
  /** Failures in a row, this one included; a connection that opened starts the count again. */
  attempt: number;
}

/** Why a subscription ended. */
export type CloseReason =
  /** `close()` or the signal. */
  | { type: 'closed' }
  /** The channel was deleted (a `close` event, or `204`); on several channels, every one of them. */
  | { type: 'deleted' }
  /**
   * A final answer (401, 403, any other 4xx but 408 and 429), a response that breaks the
   * contract (`invalid_stream`), or what a callback threw.
   */
  | { type: 'error'; error: HeraldError | Error };

export interface Subscription {
  /** The cursor a reconnection resumes from: the last `id:` received (and handled), or the `lastEventId` option. */
  readonly lastEventId: string | undefined;
  /** Ends the subscription: the request is cancelled and no reconnection is pending afterwards. */
  close(): void;
  /** Resolves, once the subscription is over for good, with why. */
  readonly closed: Promise<CloseReason>;
}
