/**
 * The one place that reads Herald's configuration from Worker vars and secrets.
 * Every name here is part of the contract in docs/api.md; defaults are stated with units.
 */

import { parseCorsOrigins, type CorsPolicy } from './cors';

/** Default seconds of silence on a stream before a `: heartbeat` comment is written. */
export const DEFAULT_HEARTBEAT_SECONDS = 15;
/** Default reconnection delay sent as the stream's `retry:` field, in milliseconds. */
export const DEFAULT_RETRY_MS = 2000;
/** Default unsent bytes a subscriber may hold before it is disconnected (1 MiB). */
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
/**
 * Default subscribers one channel holds before answering `channel_full`: what the fan-out
 * tree serves (the root's 1,000 direct subscribers plus 999 relays of 1,000, within the
 * root's 32,768 hibernatable sockets; docs/scale.md).
 */
export const DEFAULT_MAX_SUBSCRIBERS = 1_000_000;
/** Default subscribers the channel's own object serves before new ones go to relays. */
export const DEFAULT_RELAY_AFTER = 1000;
/** Default subscribers one relay object serves. */
export const DEFAULT_RELAY_SIZE = 1000;
/** Default number of events a channel retains for replay. */
export const DEFAULT_HISTORY_MAX_EVENTS = 1000;
/** Default age after which a retained event is dropped, in seconds (one day). */
export const DEFAULT_HISTORY_MAX_AGE_SECONDS = 86_400;
/** Default lifetime of an idempotency key, in seconds (one day). */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;
/**
 * Default wall-clock life of a subscriber's stream, in seconds (one hour): a Worker's CPU
 * time most likely adds up over a stream's life (30 s by default) and cannot be measured
 * from inside, so streams end in time and EventSource resumes with Last-Event-ID.
 */
export const DEFAULT_STREAM_MAX_SECONDS = 3600;
/** Default largest event data, in bytes of UTF-8. */
export const DEFAULT_MAX_EVENT_BYTES = 65_536;

/** Largest publish request body, in bytes. Fixed by docs/api.md, not configurable. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Most events in one batch publish. Fixed by docs/api.md. */
export const MAX_BATCH_EVENTS = 100;

export interface Config {
  heartbeatMs: number;
  retryMs: number;
  maxBufferedBytes: number;
  maxSubscribers: number;
  relayAfter: number;
  relaySize: number;
  historyMaxEvents: number;
  historyMaxAgeMs: number;
  idempotencyTtlMs: number;
  maxEventBytes: number;
  streamMaxMs: number;
  /** `undefined` when no key is configured: publishing is then refused (fail closed). */
  publishKey: string | undefined;
  /** Signs subscribe/publish tokens (HS256); `undefined`: no token is accepted. */
  jwtSecret: string | undefined;
  /** Signs webhooks; `undefined`: every webhook is refused. */
  webhookSecret: string | undefined;
  cors: CorsPolicy;
}

/** What the Worker and the channel object read from `env`: vars arrive as strings. */
export interface ConfigEnv {
  HEARTBEAT_SECONDS?: string;
  RETRY_MS?: string;
  MAX_BUFFERED_BYTES?: string;
  MAX_SUBSCRIBERS?: string;
  RELAY_AFTER?: string;
  RELAY_SIZE?: string;
  HISTORY_MAX_EVENTS?: string;
  HISTORY_MAX_AGE_SECONDS?: string;
  IDEMPOTENCY_TTL_SECONDS?: string;
  MAX_EVENT_BYTES?: string;
  STREAM_MAX_SECONDS?: string;
  PUBLISH_KEY?: string;
  JWT_SECRET?: string;
  WEBHOOK_SECRET?: string;
  CORS_ORIGINS?: string;
}

/** A configuration value that cannot be used; the message says what to set. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function wholeNumber(env: ConfigEnv, name: keyof ConfigEnv, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  // Vars set in wrangler.toml as numbers arrive as numbers, those from the dashboard as strings.
  const text = String(raw).trim();
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${name} must be a whole number ≥ ${min}, got '${text}'`);
  }
  return value;
}

function atMost(value: number, name: keyof ConfigEnv, max: number): number {
  if (value > max) throw new ConfigError(`${name} must be at most ${max} (an object holds at most 32,768 WebSockets), got '${value}'`);
  return value;
}

/** An empty secret is no secret: what it guards stays closed. */
function secret(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

const cache = new WeakMap<object, Config>();

/** Reads and validates the configuration once per `env` object; throws {@link ConfigError}. */
export function readConfig(env: ConfigEnv): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const config: Config = {
    heartbeatMs: wholeNumber(env, 'HEARTBEAT_SECONDS', DEFAULT_HEARTBEAT_SECONDS, 1) * 1000,
    retryMs: wholeNumber(env, 'RETRY_MS', DEFAULT_RETRY_MS, 0),
    maxBufferedBytes: wholeNumber(env, 'MAX_BUFFERED_BYTES', DEFAULT_MAX_BUFFERED_BYTES, 1024),
    maxSubscribers: wholeNumber(env, 'MAX_SUBSCRIBERS', DEFAULT_MAX_SUBSCRIBERS, 1),
    // 0: every subscriber goes through a relay. Above 30,000 the root could run out of its
    // 32,768 hibernatable sockets, which it shares with its relays.
    relayAfter: atMost(wholeNumber(env, 'RELAY_AFTER', DEFAULT_RELAY_AFTER, 0), 'RELAY_AFTER', 30_000),
    relaySize: atMost(wholeNumber(env, 'RELAY_SIZE', DEFAULT_RELAY_SIZE, 1), 'RELAY_SIZE', 30_000),
    historyMaxEvents: wholeNumber(env, 'HISTORY_MAX_EVENTS', DEFAULT_HISTORY_MAX_EVENTS, 1),
    historyMaxAgeMs: wholeNumber(env, 'HISTORY_MAX_AGE_SECONDS', DEFAULT_HISTORY_MAX_AGE_SECONDS, 1) * 1000,
    idempotencyTtlMs: wholeNumber(env, 'IDEMPOTENCY_TTL_SECONDS', DEFAULT_IDEMPOTENCY_TTL_SECONDS, 1) * 1000,
    maxEventBytes: wholeNumber(env, 'MAX_EVENT_BYTES', DEFAULT_MAX_EVENT_BYTES, 1),
    streamMaxMs: wholeNumber(env, 'STREAM_MAX_SECONDS', DEFAULT_STREAM_MAX_SECONDS, 1) * 1000,
    publishKey: secret(env.PUBLISH_KEY),
    jwtSecret: secret(env.JWT_SECRET),
    webhookSecret: secret(env.WEBHOOK_SECRET),
    cors: parseCorsOrigins(env.CORS_ORIGINS),
  };
  cache.set(env, config);
  return config;
}
