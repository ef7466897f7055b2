/**
 * `subscribe()`: one channel's stream (docs/api.md), or several channels' in one (docs/api.md),
 * delivered to callbacks. It reconnects by itself with backoff and resumes exactly where
 * it was (Last-Event-ID), until the subscriber closes it or the hub's answer is final.
 */
import { backoffDelay, resolveBackoff, waitDelay } from './backoff.ts';
import { connect, type Connection, type Outcome } from './connection.ts';
import { delay } from './delay.ts';
import { asError, type HeraldError } from './errors.ts';
import { platformFetch } from './fetch.ts';
import { resolveIdleTimeout } from './idle.ts';
import type { Target } from './messages.ts';
import type { CloseReason, SubscribeOptions, Subscription } from './types.ts';
import { channelEventsUrl, multiEventsUrl } from './urls.ts';

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
