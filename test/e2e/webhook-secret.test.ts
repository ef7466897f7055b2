/**
 * `npm run webhook-secret -- <channel>` (docs/api.md, "Webhooks") prints what a sender
 * computes on its own: `whsec_` + base64 of HMAC-SHA256(WEBHOOK_SECRET, "herald-webhook:" +
 * channel), checked here against Node's own crypto, not Herald's code.
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = new URL('../../scripts/webhook-secret.mjs', import.meta.url).pathname;

async function webhookSecret(args: string[], env: Record<string, string | undefined>) {
  return await run(process.execPath, [script, ...args], { env: { ...process.env, ...env } });
}

describe('npm run webhook-secret', () => {
  it('prints the channel secret derived from WEBHOOK_SECRET in the environment', async () => {
    const expected = `whsec_${createHmac('sha256', 'prod master').update('herald-webhook:orders').digest('base64')}`;
    expect((await webhookSecret(['orders'], { WEBHOOK_SECRET: 'prod master' })).stdout).toBe(`${expected}\n`);
  });

  it('reads WEBHOOK_SECRET from .dev.vars when the environment has none', async () => {
    const expected = `whsec_${createHmac('sha256', 'whsec_aGVyYWxkLWRldi13ZWJob29rLXNlY3JldA==').update('herald-webhook:audit').digest('base64')}`;
    expect((await webhookSecret(['audit'], { WEBHOOK_SECRET: undefined })).stdout).toBe(`${expected}\n`);
  });

  it('says how to call it when the channel is missing', async () => {
    await expect(webhookSecret([], {})).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage: npm run webhook-secret -- <channel>') });
  });
});
