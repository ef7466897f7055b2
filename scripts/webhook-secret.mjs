#!/usr/bin/env node
// Prints a channel's webhook secret (docs/api.md, "Webhooks"): what to paste into GitHub's
// webhook form, or to give a Standard Webhooks sender, for deliveries to that one channel.
//
//   npm run webhook-secret -- orders
//   WEBHOOK_SECRET=… npm run webhook-secret -- orders
//
// WEBHOOK_SECRET comes from the environment, else from .dev.vars (the local development
// hub's). The derivation is the hub's own module, so the two cannot disagree.
import { channelWebhookSecret } from '../src/webhook-secret.ts';
import { devVar } from './dev-vars.mjs';

if (process.argv.length !== 3) {
  console.error('usage: npm run webhook-secret -- <channel>');
  process.exit(2);
}
const secret = process.env.WEBHOOK_SECRET || devVar('WEBHOOK_SECRET');
if (!secret) {
  console.error('No WEBHOOK_SECRET: set it in the environment (the value you gave `wrangler secret put WEBHOOK_SECRET`), or in .dev.vars.');
  process.exit(2);
}
console.log(await channelWebhookSecret(secret, process.argv[2]));
