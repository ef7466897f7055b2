/**
 * Herald's client, for Node ≥ 20, browsers, Deno and Workers: it uses only fetch, web
 * streams, TextDecoder, AbortSignal and timers, and `eventsource-parser` for the wire.
 *
 * - {@link subscribe}: one channel or several, reconnecting with backoff and resuming exactly.
 * - {@link publish}: a batch of events, retried safely under one Idempotency-Key.
 */
export { subscribe } from './subscribe.ts';
export type { CloseReason, ErrorInfo, SubscribeOptions, Subscription } from './types.ts';
export { publish, type PublishEvent, type PublishOptions, type PublishResult } from './publish.ts';
export { HeraldError } from './errors.ts';
export type { Gap, HeraldEvent, Wait, WaitReason } from './messages.ts';
export type { BackoffOptions } from './backoff.ts';
export type { Fetch, FetchInit } from './fetch.ts';
