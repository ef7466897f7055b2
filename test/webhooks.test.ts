// docs/api.md "Webhooks": GitHub and Standard Webhooks signatures, signed here by the providers'
// own libraries (@octokit/webhooks-methods, standardwebhooks), not by Herald's code.
import { sign as githubSign } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { HubError } from '../src/errors';
import { channelWebhookSecret } from '../src/webhook-secret';
import { verifyDelivery } from '../src/webhooks';

const GITHUB_SECRET = 'It’s a Secret to Everybody';
const STANDARD_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const body = '{"action":"opened","number":1}';
const bytes = (text: string) => new TextEncoder().encode(text);
const nowSeconds = () => Math.floor(Date.now() / 1000);

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof HubError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'accepted';
}

function standardHeaders(secret: string, id: string, at: Date, payload: string): Headers {
  return new Headers({
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, payload),
  });
}

describe('GitHub (X-Hub-Signature-256)', () => {
  it('accepts a signature made with the secret string, reading event and delivery id', async () => {
    const headers = new Headers({
      'X-Hub-Signature-256': await githubSign(GITHUB_SECRET, body),
      'X-GitHub-Event': 'pull_request',
      'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    });
    expect(await verifyDelivery(headers, bytes(body), GITHUB_SECRET, nowSeconds())).toEqual({
      event: 'pull_request',
      idempotencyKey: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    });
  });

  it.each([
    ['a signature of another body', async () => githubSign(GITHUB_SECRET, `${body} `)],
    ['a signature with another secret', async () => githubSign('other', body)],
    ['the sha1 form', async () => `sha1=${'0'.repeat(40)}`],
    ['hex of the wrong length', async () => 'sha256=abcd'],
    ['an empty header', async () => ''],
  ])('refuses %s with 401 invalid_signature', async (_, signature) => {
    const headers = new Headers({ 'X-Hub-Signature-256': await signature() });
    expect(await failure(verifyDelivery(headers, bytes(body), GITHUB_SECRET, nowSeconds()))).toMatch(/^invalid_signature: /);
  });
});

describe('Standard Webhooks', () => {
  it('accepts a signature with the base64-decoded whsec_ key, using webhook-id as the key', async () => {
    const headers = standardHeaders(STANDARD_SECRET, 'msg_1', new Date(), body);
    expect(await verifyDelivery(headers, bytes(body), STANDARD_SECRET, nowSeconds())).toEqual({
      event: undefined,
      idempotencyKey: 'msg_1',
    });
  });

  it('accepts a header listing several signatures when one matches (key rotation)', async () => {
    const headers = standardHeaders(STANDARD_SECRET, 'msg_2', new Date(), body);
    const other = new Webhook('whsec_c2VjcmV0LW51bWJlci10d28=').sign('msg_2', new Date(), body);
    headers.set('webhook-signature', `${other} v1a,xyz ${headers.get('webhook-signature')}`);
    expect((await verifyDelivery(headers, bytes(body), STANDARD_SECRET, nowSeconds())).idempotencyKey).toBe('msg_2');
  });

  it('refuses a header listing more than 5 signatures, even with a valid one among them', async () => {
    const headers = standardHeaders(STANDARD_SECRET, 'msg_7', new Date(), body);
    headers.set('webhook-signature', `${'v1,AAAA '.repeat(5)}${headers.get('webhook-signature')}`);
    expect(await failure(verifyDelivery(headers, bytes(body), STANDARD_SECRET, nowSeconds()))).toMatch(/more than 5 signatures/);
  });

  it.each([
    ['6 minutes old', -360],
    ['6 minutes ahead', 360],
  ])('refuses a timestamp %s', async (_, offset) => {
    const at = new Date(Date.now() + offset * 1000);
    const headers = standardHeaders(STANDARD_SECRET, 'msg_3', at, body);
    expect(await failure(verifyDelivery(headers, bytes(body), STANDARD_SECRET, nowSeconds()))).toMatch(/^invalid_signature: .*5 minutes/);
  });

  it('accepts a timestamp 4 minutes old', async () => {
    const headers = standardHeaders(STANDARD_SECRET, 'msg_4', new Date(Date.now() - 240_000), body);
    expect(await failure(verifyDelivery(headers, bytes(body), STANDARD_SECRET, nowSeconds()))).toBe('accepted');
  });

  it.each([
    ['a changed body', (_: Headers) => {}, `${body}!`],
    ['a changed webhook-id', (h: Headers) => h.set('webhook-id', 'msg_other'), body],
    ['a missing webhook-id', (h: Headers) => h.delete('webhook-id'), body],
    ['a missing timestamp', (h: Headers) => h.delete('webhook-timestamp'), body],
    ['a non-numeric timestamp', (h: Headers) => h.set('webhook-timestamp', 'soon'), body],
    ['only a v2 signature', (h: Headers) => h.set('webhook-signature', h.get('webhook-signature')!.replace('v1,', 'v2,')), body],
  ])('refuses %s with 401 invalid_signature', async (_, change, sent) => {
    // Each change edits the signed headers in place.
    const headers = standardHeaders(STANDARD_SECRET, 'msg_5', new Date(), body);
    change(headers);
    expect(await failure(verifyDelivery(headers, bytes(sent), STANDARD_SECRET, nowSeconds()))).toMatch(/^invalid_signature: /);
  });
});

describe('channel webhook secrets', () => {
  // Computed outside Herald: node -e "crypto.createHmac('sha256', WEBHOOK_SECRET)
  // .update('herald-webhook:' + channel).digest('base64')".
  it.each([
    ['abc', 'orders', 'whsec_zwK/WZ+EVzjaJO4SSGk94P/IeE/CXbyqnRkKU95Z/lc='],
    ['whsec_aGVyYWxkLWRldi13ZWJob29rLXNlY3JldA==', 'orders', 'whsec_4bC8hfzEIgxLTwYT476S+Ybfz6sdG2DsP9wmeRSaeH0='],
    ['Ünïcødé secret', 'a.b:c~d@e', 'whsec_4+oz9fHXbF+a2u3+gOQV3DSQRqNCSY7MXRoaPQ9OlL0='],
  ])('derives from WEBHOOK_SECRET %j the secret of channel %j', async (secret, channel, expected) => {
    expect(await channelWebhookSecret(secret, channel)).toBe(expected);
  });

  it('gives every channel another secret', async () => {
    const names = ['orders', 'orders2', 'Orders', 'audit'];
    const secrets = await Promise.all(names.map((n) => channelWebhookSecret('s', n)));
    expect(new Set(secrets).size).toBe(names.length);
  });

  it('refuses a delivery signed for another channel, GitHub and Standard Webhooks alike', async () => {
    const [mine, other] = await Promise.all([channelWebhookSecret('s', 'mine'), channelWebhookSecret('s', 'other')]);
    const github = new Headers({ 'X-Hub-Signature-256': await githubSign(other, body) });
    expect(await failure(verifyDelivery(github, bytes(body), mine, nowSeconds()))).toMatch(/^invalid_signature: .*this channel's webhook secret/);
    const standard = standardHeaders(other, 'msg_6', new Date(), body);
    expect(await failure(verifyDelivery(standard, bytes(body), mine, nowSeconds()))).toMatch(/^invalid_signature: .*this channel's webhook secret/);
  });
});

it('refuses an unsigned request with 401 invalid_signature', async () => {
  expect(await failure(verifyDelivery(new Headers(), bytes(body), GITHUB_SECRET, nowSeconds()))).toMatch(/^invalid_signature: .*not signed/);
});
