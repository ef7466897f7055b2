// src/report.ts directly: one JSON line per notable event, its level first, written with
// the console method of that level; a config error once per isolate.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logLine, report, reportConfigError, type Notable } from '../src/report';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('logLine', () => {
  it.each<[Notable, string]>([
    [
      { event: 'subscriber_cut', route: 'GET /v1/events', channels: ['a', 'b'], unsentBytes: 70_000, openSeconds: 3 },
      '{"level":"warn","event":"subscriber_cut","route":"GET /v1/events","channels":["a","b"],"unsentBytes":70000,"openSeconds":3}',
    ],
    [{ event: 'channel_deleted', channel: 'orders' }, '{"level":"info","event":"channel_deleted","channel":"orders"}'],
    [
      { event: 'auth_refused', route: 'POST /v1/channels/{channel}/events', channel: 'orders', code: 'unauthorized', status: 401 },
      '{"level":"warn","event":"auth_refused","route":"POST /v1/channels/{channel}/events","channel":"orders","code":"unauthorized","status":401}',
    ],
    [
      { event: 'config_error', message: 'RETRY_MS must be a whole number ≥ 0' },
      '{"level":"error","event":"config_error","message":"RETRY_MS must be a whole number ≥ 0"}',
    ],
  ])('is one line of JSON: %j', (notable, line) => {
    expect(logLine(notable)).toBe(line);
  });
});

describe('report', () => {
  it('writes info with console.log, warnings with console.warn and errors with console.error', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    report({ event: 'channel_deleted', channel: 'a' });
    report({ event: 'webhook_refused', channel: 'a', code: 'invalid_signature', status: 401, message: 'm' });
    report({ event: 'internal_error', route: 'GET /healthz', code: 'internal_error', error: 'Error: x', stack: undefined });
    expect([log.mock.calls.length, warn.mock.calls.length, error.mock.calls.length]).toEqual([1, 1, 1]);
    expect(JSON.parse(String(error.mock.calls[0]?.[0]))).toMatchObject({ level: 'error', event: 'internal_error' });
  });

  it('reports a config error the first time this isolate meets it only', () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const message = `HEARTBEAT_SECONDS must be a whole number ≥ 1, got '${crypto.randomUUID()}'`;
    reportConfigError(message);
    reportConfigError(message);
    expect(error.mock.calls).toEqual([[logLine({ event: 'config_error', message })]]);
  });
});
