/**
 * The idle timeout. A connection that died without a word (a NAT or proxy that forgot it,
 * a laptop that slept, half-open TCP) never errors: its read just stays pending, in
 * browsers forever. The hub writes at least a `: heartbeat` to every stream that has been
 * silent for HEARTBEAT_SECONDS (15 by default), so a longer silence means the connection
 * is dead, and only a new one can tell.
 */

/** Three of the hub's default 15 s heartbeats: one late or lost heartbeat is no reason to reconnect. */
const DEFAULT_IDLE_TIMEOUT_MS = 45_000;

/** setTimeout's longest delay; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The timeout in ms (0: none); a value out of range throws a RangeError naming it. */
export function resolveIdleTimeout(ms: number = DEFAULT_IDLE_TIMEOUT_MS): number {
  if (!(Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIMER_MS)) {
    throw new RangeError(`idleTimeoutMs must be a number of ms from 0 (none) to ${MAX_TIMER_MS}, got ${String(ms)}.`);
  }
  return ms;
}

export interface IdleWatch {
  /** Aborted by the subscription's signal, or once nothing arrived for the timeout. */
  readonly signal: AbortSignal;
  /** The error the timeout aborted {@link signal} with; undefined while it has not (the subscription may have). */
  readonly expired: Error | undefined;
  /** Bytes arrived: the silence starts again. */
  touch(): void;
  /** Clears the timer and the listener on the subscription's signal; due on every end. */
  stop(): void;
}

/**
 * Watches one connection from its request on: its signal aborts when `parent` does, or
 * after `ms` without a {@link IdleWatch.touch} (never, for 0).
 */
export function watchIdle(parent: AbortSignal, ms: number): IdleWatch {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let expired: Error | undefined;
  const stop = () => {
    clearTimeout(timer);
    parent.removeEventListener('abort', follow);
  };
  const follow = () => {
    stop();
    controller.abort(parent.reason);
  };
  const expire = () => {
    stop();
    expired = new Error(`The connection was idle for ${ms} ms: no bytes from the hub, not even a heartbeat.`);
    controller.abort(expired);
  };
  const touch = () => {
    if (ms === 0 || controller.signal.aborted) return;
    clearTimeout(timer);
    timer = setTimeout(expire, ms);
  };
  if (parent.aborted) follow();
  else parent.addEventListener('abort', follow, { once: true });
  touch();
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    touch,
    stop,
  };
}
