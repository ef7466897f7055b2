import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        // Unit and integration tests, run inside workerd against the Worker in src/.
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' } })],
        test: { name: 'workers', include: ['test/**/*.test.ts'], exclude: ['test/e2e/**', 'test/limits/**', 'test/relays/**'] },
      },
      {
        // The same Worker with small limits, so that heartbeats, retention, full channels
        // and slow subscribers show within a test's time.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                HEARTBEAT_SECONDS: '1',
                MAX_SUBSCRIBERS: '3',
                HISTORY_MAX_EVENTS: '5',
                HISTORY_MAX_AGE_SECONDS: '3',
                IDEMPOTENCY_TTL_SECONDS: '2',
                MAX_BUFFERED_BYTES: '65536',
              },
            },
          }),
        ],
        test: { name: 'limits', include: ['test/limits/**/*.test.ts'], testTimeout: 15_000 },
      },
      {
        // The fan-out tree with tiny sizes (docs/api.md, "Relays"): one direct subscriber,
        // then relays of two.
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              bindings: {
                HEARTBEAT_SECONDS: '1',
                RELAY_AFTER: '1',
                RELAY_SIZE: '2',
                MAX_SUBSCRIBERS: '29',
                MAX_BUFFERED_BYTES: '65536',
                HISTORY_MAX_EVENTS: '50',
              },
            },
          }),
        ],
        test: { name: 'relays', include: ['test/relays/**/*.test.ts'], testTimeout: 30_000 },
      },
      {
        // End-to-end tests: Node starts the real Worker and talks to it with real clients.
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
