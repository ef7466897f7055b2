#!/usr/bin/env node
// Mints a Herald token: an HS256 JWT whose `herald` claim grants publish and subscribe
// patterns. Signed with hono/jwt, the same library the hub verifies with.
//
//   npm run token -- --subscribe 'private-user-*' --ttl 1h
//   npm run token -- --publish 'orders' --publish 'audit-*' --ttl 30m --secret "$JWT_SECRET"
//
// The secret comes from --secret, else the JWT_SECRET environment variable, else the local
// development secret in .dev.vars (so tokens for `npm run dev` need no flag).
import { parseArgs } from 'node:util';
import { sign } from 'hono/jwt';
import { devVar } from './dev-vars.mjs';

const UNITS = { s: 1, m: 60, h: 3600, d: 86_400 };

function usage(message) {
  console.error(`${message}\n\nusage: npm run token -- [--publish PATTERN]… [--subscribe PATTERN]… [--ttl 1h] [--secret S]`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    publish: { type: 'string', multiple: true, default: [] },
    subscribe: { type: 'string', multiple: true, default: [] },
    ttl: { type: 'string', default: '1h' },
    secret: { type: 'string' },
  },
});

if (values.publish.length === 0 && values.subscribe.length === 0) usage('Give at least one --publish or --subscribe pattern.');
const ttl = /^(\d+)([smhd])$/.exec(values.ttl);
if (!ttl) usage(`--ttl is a number and a unit (s, m, h, d), such as 1h; got '${values.ttl}'.`);

const secret = values.secret ?? process.env.JWT_SECRET ?? devVar('JWT_SECRET');
if (!secret) usage('No secret: pass --secret or set JWT_SECRET.');

const now = Math.floor(Date.now() / 1000);
const token = await sign(
  {
    herald: { publish: values.publish, subscribe: values.subscribe },
    iat: now,
    exp: now + Number(ttl[1]) * UNITS[ttl[2]],
  },
  secret,
  'HS256',
);
console.log(token);
