// Configuration from Worker vars (docs/api.md: "the names above are the contract").
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../src/config';

describe('readConfig', () => {
  it('uses the defaults of docs/api.md when nothing is set', () => {
    expect(readConfig({})).toEqual({
      heartbeatMs: 15_000,
      retryMs: 2000,
      maxBufferedBytes: 1_048_576,
      // docs/api.md, "Relays" (issue 9): what the fan-out tree serves.
      maxSubscribers: 1_000_000,
      relayAfter: 1000,
      relaySize: 1000,
      historyMaxEvents: 1000,
      historyMaxAgeMs: 86_400_000,
      idempotencyTtlMs: 86_400_000,
      maxEventBytes: 65_536,
      // docs/api.md, "Stream lifetime" (issue 8): one hour.
      streamMaxMs: 3_600_000,
      publishKey: undefined,
      jwtSecret: undefined,
      webhookSecret: undefined,
      cors: { kind: 'none' },
    });
  });

  it('reads vars as whole numbers with their units', () => {
    const config = readConfig({ HEARTBEAT_SECONDS: '5', HISTORY_MAX_AGE_SECONDS: '60', RETRY_MS: '0', PUBLISH_KEY: 'k' });
    expect(config.heartbeatMs).toBe(5000);
    expect(config.historyMaxAgeMs).toBe(60_000);
    expect(config.retryMs).toBe(0);
    expect(config.publishKey).toBe('k');
  });

  it('treats empty secrets as none, so what they guard fails closed', () => {
    expect(readConfig({ PUBLISH_KEY: '', JWT_SECRET: '', WEBHOOK_SECRET: '' })).toMatchObject({
      publishKey: undefined,
      jwtSecret: undefined,
      webhookSecret: undefined,
    });
  });

  it.each([
    [{ HEARTBEAT_SECONDS: 'abc' }, "HEARTBEAT_SECONDS must be a whole number ≥ 1, got 'abc'"],
    [{ HEARTBEAT_SECONDS: '0' }, "HEARTBEAT_SECONDS must be a whole number ≥ 1, got '0'"],
    [{ MAX_SUBSCRIBERS: '1.5' }, "MAX_SUBSCRIBERS must be a whole number ≥ 1, got '1.5'"],
    [{ RELAY_SIZE: '0' }, "RELAY_SIZE must be a whole number ≥ 1, got '0'"],
    [{ RELAY_AFTER: '-1' }, "RELAY_AFTER must be a whole number ≥ 0, got '-1'"],
    [{ RELAY_AFTER: '40000' }, "RELAY_AFTER must be at most 30000 (an object holds at most 32,768 WebSockets), got '40000'"],
    [{ RETRY_MS: '-1' }, "RETRY_MS must be a whole number ≥ 0, got '-1'"],
    [{ MAX_BUFFERED_BYTES: '100' }, "MAX_BUFFERED_BYTES must be a whole number ≥ 1024, got '100'"],
  ])('refuses %j with a message that says what to set', (env, message) => {
    expect(() => readConfig(env)).toThrow(new ConfigError(message));
  });
});
