/**
 * One connection of a subscription: the request, the answer's status, then the stream
 * read through eventsource-parser (parser.ts) until it ends, breaks, or says the subscription is over.
 */
import { HeraldError, asError, isRetryableStatus, readError, retryAfterMs } from './errors.ts';
import type { Fetch } from './fetch.ts';
import { watchIdle } from './idle.ts';
import { interpret, isWaitReason, type Incoming, type Target, type WaitReason } from './messages.ts';
import { createParser } from './parser.ts';
import type { CloseReason, SubscribeOptions } from './types.ts';

/** What outlives a connection: the cursor sent as Last-Event-ID, and the server's `retry:`. */
export interface StreamState {
  cursor: string | undefined;
  retryMs: number | undefined;
}

export interface Connection {
  fetch: Fetch;
  url: URL;
  /** Every request header but Last-Event-ID, which comes from `state`. */
  headers: Headers;
  target: Target;
  signal: AbortSignal;
  /** Silence, in ms, after which the connection is given up as dead (0: never). */
  idleTimeoutMs: number;
  state: StreamState;
  callbacks: Pick<SubscribeOptions, 'onEvent' | 'onGap' | 'onOpen' | 'onChannelClose'>;
}

/**
 * How a connection ended: for good, with an error worth retrying, or as the hub asked,
 * which is no failure. `opened` says the hub's stream opening arrived, so a failure is the
 * first after a success.
 */
export type Outcome =
  | { type: 'final'; reason: CloseReason; opened: boolean }
  | { type: 'retry'; error: Error; opened: boolean; retryAfterMs?: number | undefined }
  /** The whole stream was `retry:` and a reason (issue 8): come back after `retryMs`, with the same cursor. */
  | { type: 'wait'; reason: WaitReason; retryMs: number; opened: false }
  /** The stream ended right after a bare `retry:` block: the hub recycled it (STREAM_MAX_SECONDS). */
  | { type: 'recycled'; opened: true };

const isEventStream = (res: Response): boolean => (res.headers.get('Content-Type') ?? '').split(';')[0]?.trim().toLowerCase() === 'text/event-stream';

/** Frees the connection of a response whose body nobody will read. */
function discard(res: Response): void {
  res.body?.cancel().catch(() => undefined);
}

/** A thrown error ends the subscription when it came from aborting it, else it is retried. */
function failed(signal: AbortSignal, thrown: unknown, opened: boolean): Outcome {
  return signal.aborted ? { type: 'final', reason: { type: 'closed' }, opened } : { type: 'retry', error: asError(thrown), opened };
}

/** Opens one connection and reads it to its end. Never throws. */
export async function connect(conn: Connection): Promise<Outcome> {
  const idle = watchIdle(conn.signal, conn.idleTimeoutMs);
  try {
    const outcome = await attempt({ ...conn, signal: idle.signal }, idle.touch);
    // The timer aborted it, not the subscriber: the connection is dead, and retried as a broken one is.
    return idle.expired !== undefined && !conn.signal.aborted ? { type: 'retry', error: idle.expired, opened: outcome.opened } : outcome;
  } finally {
    idle.stop();
  }
}

/** One connection whose signal also aborts it when idle; `touch` says bytes arrived. */
async function attempt(conn: Connection, touch: () => void): Promise<Outcome> {
  const headers = new Headers(conn.headers);
  // An `id:` with no value empties the cursor; EventSource then sends no Last-Event-ID either.
  if (conn.state.cursor) headers.set('Last-Event-ID', conn.state.cursor);
  let res: Response;
  try {
    res = await conn.fetch(conn.url.href, { headers, signal: conn.signal });
  } catch (thrown) {
    return failed(conn.signal, thrown, false);
  }
  touch();
  // docs/api.md: a deleted channel (of a set: every channel deleted) answers 204.
  if (res.status === 204) {
    discard(res);
    return { type: 'final', reason: { type: 'deleted' }, opened: false };
  }
  if (res.status !== 200) {
    const error = await readError(res);
    if (conn.signal.aborted) return { type: 'final', reason: { type: 'closed' }, opened: false };
    return isRetryableStatus(res.status)
      ? { type: 'retry', error, opened: false, retryAfterMs: retryAfterMs(res.headers.get('Retry-After')) }
      : { type: 'final', reason: { type: 'error', error }, opened: false };
  }
  if (!isEventStream(res) || res.body === null) {
    discard(res);
    // As EventSource does: another content type is not a hub's stream, and retrying will not make it one.
    const error = new HeraldError(200, 'invalid_stream', `Expected a text/event-stream, got '${res.headers.get('Content-Type') ?? 'no content type'}'.`);
    return { type: 'final', reason: { type: 'error', error }, opened: false };
  }
  return read(res.body, conn, touch);
}

async function read(body: ReadableStream<Uint8Array>, { target, state, signal, callbacks }: Connection, touch: () => void): Promise<Outcome> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const closedChannels = new Set<string>();
  let opened = false;
  /** Set once the subscription is over: its channels closed, a callback threw, or the stream broke the contract. */
  let end: CloseReason | undefined;
  /** The cursor before the current block's `id:`, put back if that block's event was not delivered. */
  let before = state.cursor;
  /**
   * What the stream said since its last event, `id:` or other comment. A `retry:` alone is
   * how a recycled stream ends; a `retry:` and a wait's reason before anything opened the
   * stream are the whole of a wait (issue 8).
   */
  let tail: { retryMs?: number; reason?: WaitReason } = {};
  /** A wait's `retry:` is for that wait only, not the base of later backoff: put back after one. */
  const retryBefore = state.retryMs;
  // Nothing more is delivered, nor counted in the cursor, once the subscription is over,
  // even from the rest of a chunk already read (e.g. onEvent called close()).
  const stopped = () => end !== undefined || signal.aborted;

  const open = () => {
    if (opened) return;
    opened = true;
    try {
      callbacks.onOpen?.();
    } catch (thrown) {
      end = { type: 'error', error: asError(thrown) };
    }
  };

  /** Hands one message to the callbacks; returns the error that ends the subscription, if any. */
  const deliver = (incoming: Incoming): Error | undefined => {
    try {
      switch (incoming.type) {
        case 'event':
          callbacks.onEvent(incoming.event);
          return undefined;
        case 'gap':
          callbacks.onGap?.(incoming.gap);
          return undefined;
        case 'close':
          // One channel: it is over. Several: the hub goes on with the others and ends the
          // stream once all are closed (docs/api.md, "Delete").
          closedChannels.add(incoming.channel);
          callbacks.onChannelClose?.(incoming.channel);
          if (target.kind === 'channel' || closedChannels.size === target.channels.length) end = { type: 'deleted' };
          return undefined;
        case 'invalid':
          return new HeraldError(200, 'invalid_stream', `The hub's stream broke the contract: ${incoming.reason}.`);
      }
    } catch (thrown) {
      return asError(thrown);
    }
  };

  /** Whether the subscription goes on, once the opening has been reported (onOpen may end it). */
  const live = () => {
    if (!stopped()) open();
    return !stopped();
  };

  const parser = createParser({
    // Not an opening by itself: a wait starts with `retry:` too, and must not reach onOpen.
    onRetry: (ms) => {
      if (stopped()) return;
      state.retryMs = ms;
      tail.retryMs = ms;
    },
    onComment: (comment) => {
      if (!opened && isWaitReason(comment)) {
        tail.reason = comment;
        return;
      }
      tail = {};
      void live();
    },
    // Called at the end of every block with an `id:`, data or not: the stream's opening
    // `id:` sets the cursor before any event (docs/api.md's opening, WHATWG "dispatch the event").
    onId: (id) => {
      tail = {};
      if (!live()) return;
      before = state.cursor;
      state.cursor = id;
    },
    onEvent: (message) => {
      tail = {};
      if (!live()) return;
      const error = deliver(interpret(message, target));
      if (error === undefined) return;
      end = { type: 'error', error };
      // A resume from lastEventId gets this event again, since it was not handled.
      if (message.id !== undefined) state.cursor = before;
    },
  });

  // fetch errors the body when its signal aborts; a supplied fetch may not, so cancel it here
  // too (a pending read then resolves as done).
  const cancel = () => void reader.cancel().catch(() => undefined);
  signal.addEventListener('abort', cancel, { once: true });
  if (signal.aborted) cancel();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      touch();
      parser.feed(decoder.decode(value, { stream: true }));
      if (end !== undefined) return { type: 'final', reason: end, opened };
      if (signal.aborted) return { type: 'final', reason: { type: 'closed' }, opened };
    }
  } catch (thrown) {
    return failed(signal, thrown, opened);
  } finally {
    signal.removeEventListener('abort', cancel);
    // Ends the request whatever ended the loop; after the body's own end it does nothing.
    cancel();
  }
  if (signal.aborted) return { type: 'final', reason: { type: 'closed' }, opened };
  const { retryMs, reason } = tail;
  if (retryMs !== undefined && reason !== undefined && !opened) {
    state.retryMs = retryBefore;
    return { type: 'wait', reason, retryMs, opened: false };
  }
  if (retryMs !== undefined && reason === undefined && opened) return { type: 'recycled', opened: true };
  return { type: 'retry', error: new Error('The hub ended the stream.'), opened };
}
