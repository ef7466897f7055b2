/**
 * Each channel's webhook secret (docs/api.md, "Webhooks"), derived from WEBHOOK_SECRET so
 * that a delivery signed for one channel verifies on no other: a captured delivery cannot
 * be replayed into another channel, even one from GitHub, which signs no timestamp.
 *
 * The derivation is contract: senders compute it too (`npm run webhook-secret -- <channel>`
 * runs this very module), so it imports nothing and uses only WebCrypto and `btoa`.
 */

/** The message HMAC'd with WEBHOOK_SECRET, before the channel's name. */
export const WEBHOOK_SECRET_CONTEXT = 'herald-webhook:';

/**
 * `whsec_` + base64 (standard, padded) of HMAC-SHA256(WEBHOOK_SECRET, "herald-webhook:" +
 * channel). GitHub takes the whole string as its secret; Standard Webhooks the key after
 * `whsec_`, which is the raw 32-byte MAC.
 */
export async function channelWebhookSecret(webhookSecret: string, channel: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(webhookSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(WEBHOOK_SECRET_CONTEXT + channel)));
  return `whsec_${btoa(String.fromCharCode(...mac))}`;
}
