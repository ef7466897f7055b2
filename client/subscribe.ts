/**
 * `subscribe()`: one channel's stream (docs/api.md), or several channels' in one (docs/api.md),
 * delivered to callbacks. It reconnects by itself with backoff and resumes exactly where
 * it was (Last-Event-ID), until the subscriber closes it or the hub's answer is final.
 */
import { backoffDelay, resolveBackoff, waitDelay, type BackoffOptions } from './backoff.ts';
import { connect, type Connection, type Outcome } from './connection.ts';
import { delay } from './delay.ts';
import { asError, type HeraldError } from './errors.ts';
import { platformFetch, type Fetch } from './fetch.ts';
import { resolveIdleTimeout } from './idle.ts';
import type { Gap, HeraldEvent, Target, Wait } from './messages.ts';
import { channelEventsUrl, multiEventsUrl } from './urls.ts';

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

function targetOf({ channel, channels }: SubscribeOptions): Target {
  if (channel !== undefined && channels === undefined) return { kind: 'channel', channel };
  if (channel === undefined && channels !== undefined) {
    if (channels.length === 0) throw new TypeError('subscribe(): `channels` needs at least one channel.');
    return { kind: 'channels', channels: [...channels] };
  }
  throw new TypeError('subscribe() takes exactly one of `channel` and `channels`.');
}

function requestHeaders({ headers, token }: SubscribeOptions): Headers {
  const result = new Headers(headers);
  if (result.has('Last-Event-ID')) throw new TypeError('subscribe(): give the resume point as `lastEventId`, not as a header.');
  if (token !== undefined) {
    if (result.has('Authorization')) throw new TypeError('subscribe(): give the credential as `token` or as an Authorization header, not both.');
    result.set('Authorization', `Bearer ${token}`);
  }
  result.set('Accept', 'text/event-stream');
  return result;
}

/**
 * Calls `onClose`. What it throws is logged rather than rejecting `closed`: the
 * subscription is over either way, and a rejection nobody awaits is an unhandled one
 * (which ends a Node process).
 */
function notifyClose(onClose: SubscribeOptions['onClose'], reason: CloseReason): void {
  try {
    onClose?.(reason);
  } catch (thrown) {
    console.error('Herald subscribe(): onClose threw', thrown);
  }
}

/**
 * `onChannelClose` once per channel: a reconnecting stream opens with a `close` for each
 * channel already deleted, which the subscriber was told of before.
 */
function onceEach(callback: SubscribeOptions['onChannelClose']): SubscribeOptions['onChannelClose'] {
  if (callback === undefined) return undefined;
  const told = new Set<string>();
  return (channel) => {
    if (told.has(channel)) return;
    told.add(channel);
    callback(channel);
  };
}

/**
 * Subscribes to one channel or several. Throws a TypeError or RangeError at once for
 * options that cannot work; everything after that is reported through the callbacks.
 *
 * @param url the hub's base URL, e.g. `https://hub.example.com`.
 */
export function subscribe(url: string, options: SubscribeOptions): Subscription {
  const target = targetOf(options);
  const backoff = resolveBackoff(options.backoff);
  const controller = new AbortController();
  const conn: Connection = {
    fetch: options.fetch ?? platformFetch,
    url: target.kind === 'channel' ? channelEventsUrl(url, target.channel) : multiEventsUrl(url, target.channels),
    headers: requestHeaders(options),
    target,
    signal: controller.signal,
    idleTimeoutMs: resolveIdleTimeout(options.idleTimeoutMs),
    state: { cursor: options.lastEventId, retryMs: undefined },
    callbacks: { ...options, onChannelClose: onceEach(options.onChannelClose) },
  };
  const abort = () => controller.abort();
  if (options.signal?.aborted) abort();
  options.signal?.addEventListener('abort', abort, { once: true });

  /** Failures in a row (ErrorInfo.attempt); a wait and a recycled stream are none. */
  let failures = 0;

  /** The wait before the next connection, or how the subscription ends. */
  function next(outcome: Outcome): number | CloseReason {
    const base = conn.state.retryMs ?? backoff.initialMs;
    switch (outcome.type) {
      case 'wait': {
        // Neither counted nor a reset of the count: the backoff after it is what it was before.
        const delayMs = waitDelay(outcome.retryMs);
        try {
          options.onWait?.({ reason: outcome.reason, delayMs });
          return delayMs;
        } catch (thrown) {
          return fail(asError(thrown), false);
        }
      }
      case 'recycled':
        // The usual delay after a stream that opened, and the count starts again, as the stream opened.
        failures = 0;
        return backoffDelay(1, base, backoff);
      case 'final':
        if (outcome.reason.type !== 'error') return outcome.reason;
        return fail(outcome.reason.error, outcome.opened);
      case 'retry': {
        failures = outcome.opened ? 1 : failures + 1;
        const delayMs = Math.max(backoffDelay(failures, base, backoff), outcome.retryAfterMs ?? 0);
        options.onError?.(outcome.error, { willRetry: true, delayMs, attempt: failures });
        return delayMs;
      }
    }
  }

  /** A final error: counted as the others are, told to onError, and the end of the subscription. */
  function fail(error: HeraldError | Error, opened: boolean): CloseReason {
    failures = opened ? 1 : failures + 1;
    options.onError?.(error, { willRetry: false, attempt: failures });
    return { type: 'error', error };
  }

  async function run(): Promise<CloseReason> {
    while (!controller.signal.aborted) {
      const after = next(await connect(conn));
      if (typeof after !== 'number') return after;
      if (!(await delay(after, controller.signal))) break;
    }
    return { type: 'closed' };
  }

  const closed = run()
    .catch((thrown: unknown): CloseReason => ({ type: 'error', error: asError(thrown) }))
    .then((reason) => {
      // A long-lived signal must not keep this subscription reachable.
      options.signal?.removeEventListener('abort', abort);
      notifyClose(options.onClose, reason);
      return reason;
    });

  return {
    get lastEventId() {
      return conn.state.cursor;
    },
    close: abort,
    closed,
  };
}
