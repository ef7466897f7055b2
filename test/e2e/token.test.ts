// `npm run token` (README, "Security"): mints HS256 tokens the hub accepts.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { verify } from 'hono/jwt';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/token.mjs', import.meta.url).pathname;

describe('scripts/token.mjs', () => {
  it('mints a token with the patterns and lifetime asked for, signed with the dev secret', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--subscribe', 'private-user-*', '--publish', 'orders', '--ttl', '2h']);
    const payload = await verify(stdout.trim(), 'herald-dev-jwt-secret', 'HS256');
    expect(payload.herald).toEqual({ publish: ['orders'], subscribe: ['private-user-*'] });
    expect(Number(payload.exp) - Number(payload.iat)).toBe(7200);
  });

  it('signs with --secret when given', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, '--publish', '*', '--secret', 'prod-secret']);
    await expect(verify(stdout.trim(), 'prod-secret', 'HS256')).resolves.toMatchObject({ herald: { publish: ['*'], subscribe: [] } });
  });

  it('refuses a call without patterns or with a bad --ttl, exiting 2 with usage', async () => {
    await expect(run(process.execPath, [SCRIPT])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage:') });
    await expect(run(process.execPath, [SCRIPT, '--publish', 'a', '--ttl', 'soon'])).rejects.toMatchObject({ code: 2 });
  });
});
