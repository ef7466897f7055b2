#!/usr/bin/env node
// Runs Herald's Worker in a single workerd process through Miniflare, without wrangler's
// proxy: bundles src/index.ts (or $HERALD_BENCH_ENTRY) with esbuild, takes bindings and Durable Objects from
// wrangler.toml (and PUBLISH_KEY from .dev.vars, as `npm run dev` does), listens on
// 127.0.0.1:<port>. Started by bench/targets/herald.mjs as a child process; prints one
// JSON line {"url":…} when ready and stops when its stdin closes or on SIGTERM.
//
//   node bench/targets/miniflare-host.mjs <port> <persist-dir>
import { build } from 'esbuild';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [port, persist] = process.argv.slice(2);
if (!port || !persist) {
  console.error('usage: miniflare-host.mjs <port> <persist-dir>');
  process.exit(2);
}

const outdir = path.join(persist, 'bundle');
await mkdir(outdir, { recursive: true });
const scriptPath = path.join(outdir, 'index.js');
// HERALD_BENCH_ENTRY swaps the Worker (the workerd-floor target); the bindings stay Herald's.
const entry = process.env.HERALD_BENCH_ENTRY ? path.resolve(process.env.HERALD_BENCH_ENTRY) : path.join(ROOT, 'src/index.ts');
await build({
  entryPoints: [entry],
  outfile: scriptPath,
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  mainFields: ['module', 'main'],
  conditions: ['workerd', 'worker', 'browser'],
  target: 'es2024',
  external: ['cloudflare:*', 'node:*'],
  logLevel: 'warning',
});

const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(ROOT, 'wrangler.toml'), undefined, {});
// This Miniflare (5.x beta) takes a new options shape; it converts the classic (v4) one.
const mf = new Miniflare(convertV4MiniflareOptions({
  host: '127.0.0.1',
  port: Number(port),
  // On disk, as `wrangler dev --persist-to` keeps it: SQLite writes are real file writes.
  resourcePersistencePath: path.join(persist, 'state'),
  // For bench/profile.mjs: the DevTools inspector (CPU profiles of the Worker's isolate).
  ...(process.env.HERALD_BENCH_INSPECTOR_PORT ? { inspectorPort: Number(process.env.HERALD_BENCH_INSPECTOR_PORT) } : {}),
  workers: [
    {
      name: 'herald',
      modules: true,
      scriptPath,
      modulesRoot: outdir,
      compatibilityDate: workerOptions.compatibilityDate,
      compatibilityFlags: workerOptions.compatibilityFlags,
      // CHANNEL → class Channel, SQLite-backed, and the [vars] of wrangler.toml.
      durableObjects: workerOptions.durableObjects,
      bindings: { ...workerOptions.bindings, PUBLISH_KEY: 'herald-dev-key' },
    },
  ],
}));
const url = await mf.ready;
process.stdout.write(`${JSON.stringify({ url: url.href })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(1), 10_000);
  try {
    await mf.dispose();
  } finally {
    clearTimeout(timer);
    process.exit(0);
  }
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
