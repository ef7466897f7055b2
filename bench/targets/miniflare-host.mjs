#!/usr/bin/env node
// Runs Herald's Worker in a single workerd process through Miniflare, without wrangler's
// proxy: bundles src/index.ts (or $HERALD_BENCH_ENTRY) with esbuild, takes bindings and Durable Objects from
// wrangler.toml (and PUBLISH_KEY from .dev.vars, as `npm run dev` does), listens on
// 127.0.0.1:<port>. Started by bench/targets/herald.mjs as a child process; prints one
// JSON line {"url":…} when ready and stops when its stdin closes or on SIGTERM.
//
//   node bench/targets/miniflare-host.mjs <port> <persist-dir>
//
// Environment (all optional):
//   HERALD_BENCH_ENTRY    another Worker to serve (the workerd-floor target)
//   HERALD_BENCH_COMMIT   serve Herald as it was at this commit: its src/ and wrangler.toml
//                         are extracted (`git archive`) into <persist-dir>/source and bundled
//                         from there; nothing is written to the repository
//   HERALD_BENCH_SPLIT=1  two Miniflare workers in the one workerd: `herald` (the edge
//                         Worker, what requests reach) and `herald-channel` (the same bundle,
//                         the only one whose Channel class runs: the edge's CHANNEL binding
//                         names it with scriptName). Each worker is its own V8 isolate, so the
//                         Durable Object's heap and CPU profile are its own, as in production
//   HERALD_BENCH_SPLIT=3  three workers (issue 9's relays): `herald` (the edge Worker),
//                         `herald-channel` (runs only the Channel class, the root) and
//                         `herald-relay` (runs only the Relay class). Each class is defined by
//                         the one worker that runs it and reached from the others by
//                         scriptName, so there is one CHANNEL namespace and one RELAY
//                         namespace, each in its own isolate
//   HERALD_BENCH_VARS     JSON object of Worker vars merged over wrangler.toml's [vars]
//                         (e.g. {"RELAY_AFTER":"1000","RELAY_SIZE":"1000"}), in every worker
//   HERALD_BENCH_INSPECTOR_PORT  workerd's DevTools inspector (CPU profiles, heap)
// Herald's Channel class is served through a subclass whose constructor prints one line,
// `herald-bench: channel object constructed <n>`, so that a bench can tell an object that
// was rebuilt (after hibernation or eviction) from one that stayed in memory; src/ is
// untouched and the subclass adds nothing else.
import { build } from 'esbuild';
import { Miniflare, convertV4MiniflareOptions } from 'miniflare';
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const [port, persist] = process.argv.slice(2);
if (!port || !persist) {
  console.error('usage: miniflare-host.mjs <port> <persist-dir>');
  process.exit(2);
}

// The source: the working tree, or a commit's src/ and wrangler.toml in a temporary folder.
let sourceRoot = ROOT;
const commit = process.env.HERALD_BENCH_COMMIT;
if (commit) {
  sourceRoot = path.join(persist, 'source');
  await mkdir(sourceRoot, { recursive: true });
  const archive = execFileSync('git', ['archive', '--format=tar', commit, 'src', 'wrangler.toml'], { cwd: ROOT, maxBuffer: 64 << 20 });
  execFileSync('tar', ['-x', '-C', sourceRoot], { input: archive });
  // wrangler.toml names the console's assets folder; Miniflare is not given assets here.
  await mkdir(path.join(sourceRoot, 'public'), { recursive: true });
}

const outdir = path.join(persist, 'bundle');
await mkdir(outdir, { recursive: true });
const scriptPath = path.join(outdir, 'index.js');
// HERALD_BENCH_ENTRY swaps the Worker (the workerd-floor target); the bindings stay Herald's.
let entry;
if (process.env.HERALD_BENCH_ENTRY) entry = path.resolve(process.env.HERALD_BENCH_ENTRY);
else {
  entry = path.join(outdir, 'entry.js');
  const index = JSON.stringify(path.join(sourceRoot, 'src/index.ts'));
  await writeFile(
    entry,
    `import app, { Channel as HeraldChannel } from ${index};
// Every other class the source exports (Relay, since issue 9); the Channel below shadows its own.
export * from ${index};
let constructed = 0;
export class Channel extends HeraldChannel {
  constructor(ctx, env) {
    super(ctx, env);
    console.log(\`herald-bench: channel object constructed \${++constructed}\`);
  }
}
export default app;
`,
  );
}
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
  // A commit's source sits outside the repository: its imports (hono) resolve from ours.
  nodePaths: [path.join(ROOT, 'node_modules')],
  logLevel: 'warning',
});

const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(sourceRoot, 'wrangler.toml'), undefined, {});
const common = {
  modules: true,
  scriptPath,
  modulesRoot: outdir,
  compatibilityDate: workerOptions.compatibilityDate,
  compatibilityFlags: workerOptions.compatibilityFlags,
  // The [vars] of wrangler.toml.
  bindings: { ...workerOptions.bindings, PUBLISH_KEY: 'herald-dev-key', ...benchVars() },
  // wrangler.toml's Analytics Engine dataset (METRICS): bound, so the bench pays for the
  // data points Herald makes; Miniflare's local dataset then drops them.
  analyticsEngineDatasets: workerOptions.analyticsEngineDatasets,
};
const split = process.env.HERALD_BENCH_SPLIT === '1';
const OBJECT_WORKER = 'herald-channel';
const RELAY_WORKER = 'herald-relay';
const asObject = (v) => (typeof v === 'string' ? { className: v } : v);
/**
 * HERALD_BENCH_SPLIT=3: the worker that runs each Durable Object class. A binding names its
 * class's worker with scriptName everywhere else; Miniflare defines (exports) a class only
 * in the worker whose binding has no scriptName, so each namespace exists exactly once.
 */
const ownerOf = (className) => (className === 'Relay' ? RELAY_WORKER : OBJECT_WORKER);
const boundFrom = (self) =>
  Object.fromEntries(
    Object.entries(workerOptions.durableObjects).map(([binding, v]) => {
      const object = asObject(v);
      const owner = ownerOf(object.className);
      return [binding, owner === self ? object : { ...object, scriptName: owner }];
    }),
  );
const workers =
  process.env.HERALD_BENCH_SPLIT === '3'
    ? [
        { ...common, name: 'herald', durableObjects: boundFrom('herald') },
        { ...common, name: OBJECT_WORKER, durableObjects: boundFrom(OBJECT_WORKER) },
        { ...common, name: RELAY_WORKER, durableObjects: boundFrom(RELAY_WORKER) },
      ]
    : split
      ? [
          {
            ...common,
            name: 'herald',
            // CHANNEL → class Channel of the other worker, SQLite-backed.
            durableObjects: Object.fromEntries(
              Object.entries(workerOptions.durableObjects).map(([k, v]) => [
                k,
                { ...(typeof v === 'string' ? { className: v } : v), scriptName: OBJECT_WORKER },
              ]),
            ),
          },
          { ...common, name: OBJECT_WORKER, durableObjects: workerOptions.durableObjects },
        ]
      : [{ ...common, name: 'herald', durableObjects: workerOptions.durableObjects }];

/** HERALD_BENCH_VARS: extra Worker vars (strings), over wrangler.toml's. */
function benchVars() {
  const text = process.env.HERALD_BENCH_VARS;
  if (!text) return {};
  const vars = JSON.parse(text);
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) throw new Error('HERALD_BENCH_VARS: a JSON object of vars');
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, String(v)]));
}

// This Miniflare (5.x beta) takes a new options shape; it converts the classic (v4) one.
const mf = new Miniflare(
  convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: Number(port),
    // On disk, as `wrangler dev --persist-to` keeps it: SQLite writes are real file writes.
    resourcePersistencePath: path.join(persist, 'state'),
    // For bench/profile.mjs: the DevTools inspector (CPU profiles of the Worker's isolate).
    ...(process.env.HERALD_BENCH_INSPECTOR_PORT ? { inspectorPort: Number(process.env.HERALD_BENCH_INSPECTOR_PORT) } : {}),
    workers,
  }),
);
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
