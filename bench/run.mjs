#!/usr/bin/env node
// Herald's benchmark, side by side with Nchan (issues 4 and 8). For each target and each
// workload, starts the target afresh, opens S raw-HTTP SSE subscribers on one channel,
// publishes M events stamped with their send time and measures delivery, latency, and the
// target's CPU and memory from /proc. Targets run one after another, never at once; every
// job restarts its target. Loopback only, bounded in count and time. Results: medians of
// the runs, written to docs/benchmarks.md (and every run's numbers to docs/benchmarks.json).
//
// Issue 8 (hibernating channels) compares two designs in one run: `herald-workerd` (the
// working tree: the edge Worker holds each stream, the object one hibernatable WebSocket per
// subscriber) and `herald-old` (commit 9aaa5aa, extracted at start: the object holds the
// streams). Besides the clean fan-out runs, for the Herald targets:
//  - inspect jobs: the same workload on a separate start with workerd's inspector attached:
//    V8 CPU profiles of the object's isolate and the edge Worker's (the object's share of
//    the process's CPU) and each isolate's heap per subscriber;
//  - wake-up jobs: S quiet subscribers until the object hibernated, then the first publish
//    (acknowledgement, time until all have it, CPU) against a second one right after.
//
//   npm run bench                                  # issue 8's comparison, 1 run (about 7 min here)
//   npm run bench -- --quick                       # tiny workloads, prints only
//   npm run bench -- --targets herald-workerd,nchan --workloads 1000x200,micro --inspect none --wakeup none --runs 3
//   (micro: publish acks, batches, replay; heap: the isolate's heap at 2,000 subscribers)
//   npm run bench -- --suite relays                # issue 9: relays against none → docs/relays-bench.md
//   npm run bench -- --suite relays --quick        # 20x20 and 50x20, RELAY_AFTER=RELAY_SIZE=10, prints only
//
// Options: --targets a,b (herald-workerd, herald-old, nchan by default; also herald-shared,
//          herald-dev, workerd-floor, node-broadcast)
//          --workloads a,b (names below, `SxM` or `SxM@rate`, `micro`, `heap`, `none`)
//          --inspect a,b (workloads to profile; `none`)   --wakeup S,S (`none`)
//          --wakeup-quiet SECONDS (12; a retry after 20 if the object had not hibernated)
//          --runs N (1)   --deadline-min N (default 40)   --out FILE (default docs/benchmarks.md;
//          --quick prints only unless --out is given)   --no-micro
//          --render FILE.json: rewrite the report from a previous run's numbers, run nothing
//          --suite relays (issue 9): targets herald-relays and herald-norelay (the working
//          tree as three isolates: edge, root, relays; RELAY_AFTER 30000 for norelay),
//          workloads 1000x200, 3000x60, 9000x20, each clean and profiled, the channel info
//          read at the end of each run; writes docs/relays-bench.md (and .json)
//          --relay-after N, --relay-size N (with --suite relays: herald-relays' vars;
//          1000 and 1000, or 10 and 10 with --quick)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine } from './lib/proc.mjs';
import { renderRelaysReport } from './lib/relays-report.mjs';
import { renderReport } from './lib/report.mjs';
import { runInspected } from './lib/inspect.mjs';
import { runHeap, runMicro, runWakeup, runWorkload } from './lib/workload.mjs';
import {
  heraldDev,
  heraldNorelay,
  heraldNorelayTarget,
  heraldOld,
  heraldRelays,
  heraldRelaysTarget,
  heraldShared,
  heraldWorkerd,
  workerdFloor,
} from './targets/herald.mjs';
import { nchan, nchanVersion } from './targets/nchan.mjs';
import { nodeBroadcast } from './targets/node-broadcast.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const TARGETS = [heraldWorkerd, heraldOld, heraldShared, heraldDev, workerdFloor, heraldRelays, heraldNorelay, nchan, nodeBroadcast];
const DEFAULT_TARGETS = [heraldWorkerd, heraldOld, nchan];
// Issue 8's sizes: 100, 1,000 and 9,000 subscribers (9,000 is about the most one workerd
// holds here: two descriptors per subscriber against an open-files hard limit of 20,000).
const WORKLOADS = [
  { name: '100x500', subscribers: 100, events: 500 },
  { name: '1000x200', subscribers: 1000, events: 200 },
  // Issue 4's latency target is stated for S=1000 at 100 events/s.
  { name: '1000x300@100', subscribers: 1000, events: 300, rate: 100 },
  { name: '9000x20', subscribers: 9000, events: 20 },
];
const MORE_WORKLOADS = [
  { name: '100x1000', subscribers: 100, events: 1000 },
  { name: '5000x50', subscribers: 5000, events: 50 },
  { name: '10000x20', subscribers: 10000, events: 20 },
  { name: '100x500@100', subscribers: 100, events: 500, rate: 100 },
];
const INSPECT = ['100x500', '1000x200', '9000x20'];
const WAKEUP = [1000, 9000];
const QUICK_WORKLOADS = [
  { name: '20x50', subscribers: 20, events: 50 },
  { name: '50x20@50', subscribers: 50, events: 20, rate: 50 },
];
const QUICK_INSPECT = ['20x50'];
const QUICK_WAKEUP = [50];
// Issue 9 (--suite relays): the root's CPU per event from 1,000 to 9,000 subscribers, with
// relays of 1,000 past the root's first 1,000 and without (about 200,000 deliveries each).
const RELAYS_WORKLOADS = [
  { name: '1000x200', subscribers: 1000, events: 200 },
  { name: '3000x60', subscribers: 3000, events: 60 },
  { name: '9000x20', subscribers: 9000, events: 20 },
];
const RELAYS_QUICK_WORKLOADS = [
  { name: '20x20', subscribers: 20, events: 20 },
  { name: '50x20', subscribers: 50, events: 20 },
];
/** After a run's last delivery, the channel info is read this much later (relays report every 2 s at most). */
const RELAYS_INFO_AFTER_MS = 2500;

function parseArgs(argv) {
  const args = {
    quick: false,
    runs: undefined,
    targets: undefined,
    workloads: undefined,
    inspect: undefined,
    wakeup: undefined,
    wakeupQuiet: 12,
    deadlineMin: 40,
    out: undefined,
    micro: true,
    suite: undefined,
    relayAfter: undefined,
    relaySize: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--no-micro') args.micro = false;
    else if (a.startsWith('--runs')) args.runs = Number(value());
    else if (a.startsWith('--targets')) args.targets = value().split(',').filter(Boolean);
    else if (a.startsWith('--workloads')) args.workloads = value().split(',').filter(Boolean);
    else if (a.startsWith('--inspect'))
      args.inspect = value()
        .split(',')
        .filter((w) => w && w !== 'none');
    else if (a.startsWith('--wakeup-quiet')) args.wakeupQuiet = Number(value());
    else if (a.startsWith('--wakeup'))
      args.wakeup = value()
        .split(',')
        .filter((w) => w && w !== 'none')
        .map(Number);
    else if (a.startsWith('--deadline-min')) args.deadlineMin = Number(value());
    else if (a.startsWith('--out')) args.out = value();
    else if (a.startsWith('--render')) args.render = value();
    else if (a.startsWith('--suite')) args.suite = value();
    else if (a.startsWith('--relay-after')) args.relayAfter = Number(value());
    else if (a.startsWith('--relay-size')) args.relaySize = Number(value());
    else if (a === '--help' || a === '-h') {
      console.log(
        readFileSync(fileURLToPath(import.meta.url), 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('//'))
          .join('\n'),
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  return args;
}

function workloadFromSpec(spec) {
  const known = [...WORKLOADS, ...MORE_WORKLOADS, ...QUICK_WORKLOADS, ...RELAYS_WORKLOADS, ...RELAYS_QUICK_WORKLOADS].find((x) => x.name === spec);
  if (known) return known;
  const m = /^(\d+)x(\d+)(?:@(\d+))?$/.exec(spec);
  if (!m) throw new Error(`unknown workload ${spec}: use a name (${WORKLOADS.map((w) => w.name).join(', ')}), SxM, SxM@rate or micro`);
  return { name: spec, subscribers: Number(m[1]), events: Number(m[2]), ...(m[3] ? { rate: Number(m[3]) } : {}) };
}

const args = parseArgs(process.argv.slice(2));
if (args.suite !== undefined && args.suite !== 'relays') throw new Error(`unknown suite ${args.suite}: relays`);
const relaysSuite = args.suite === 'relays';
for (const [option, v] of [
  ['--relay-after', args.relayAfter],
  ['--relay-size', args.relaySize],
]) {
  if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 30_000)) throw new Error(`${option}: a whole number from 0 to 30000`);
  if (v !== undefined && !relaysSuite) throw new Error(`${option} goes with --suite relays`);
}
if (args.render) {
  const { info, results } = JSON.parse(await readFile(args.render, 'utf8'));
  if (info.suite === 'relays') {
    const report = renderRelaysReport({ info, results, targets: info.targets, workloads: info.workloads });
    const file = args.out ?? path.join(ROOT, 'docs/relays-bench.md');
    await writeReport(file, report);
    console.log(`${report.summary}\nwritten to ${file}`);
    process.exit(0);
  }
  const known = new Map([...TARGETS, ...info.targets].map((t) => [t.name, t]));
  const report = renderReport({ info, results, targets: info.targets.map((t) => known.get(t.name)), workloads: info.workloads });
  const file = args.out ?? path.join(ROOT, 'docs/benchmarks.md');
  await writeReport(file, report);
  console.log(`${report.summary}\nwritten to ${file}`);
  process.exit(0);
}
const runs = args.runs ?? 1;
// --suite relays: its own two targets (RELAY_AFTER and RELAY_SIZE from the options), workloads and report.
const relayAfter = args.relayAfter ?? (args.quick ? 10 : 1000);
const relaySize = args.relaySize ?? (args.quick ? 10 : 1000);
const suiteTargets = relaysSuite ? [heraldRelaysTarget({ relayAfter, relaySize }), heraldNorelayTarget({ relaySize })] : [];
const knownTargets = [...suiteTargets, ...TARGETS.filter((t) => !suiteTargets.some((s) => s.name === t.name))];
const targets = args.targets
  ? args.targets.map(
      (n) =>
        knownTargets.find((t) => t.name === n) ??
        (() => {
          throw new Error(`unknown target ${n}: ${knownTargets.map((t) => t.name).join(', ')}`);
        })(),
    )
  : relaysSuite
    ? suiteTargets
    : DEFAULT_TARGETS;
let workloads = relaysSuite ? (args.quick ? RELAYS_QUICK_WORKLOADS : RELAYS_WORKLOADS) : args.quick ? QUICK_WORKLOADS : WORKLOADS;
let micro = args.micro && !relaysSuite;
let heapOnly = false;
if (args.workloads) {
  micro = args.micro && args.workloads.includes('micro');
  heapOnly = args.workloads.includes('heap');
  workloads = args.workloads.filter((w) => w !== 'micro' && w !== 'heap' && w !== 'none').map(workloadFromSpec);
}
// The relays suite profiles every workload it runs (the root's CPU per event comes from the profiles).
const inspects = args.inspect ? args.inspect.map(workloadFromSpec) : relaysSuite ? workloads : (args.quick ? QUICK_INSPECT : INSPECT).map(workloadFromSpec);
const wakeups = args.wakeup ?? (relaysSuite ? [] : args.quick ? QUICK_WAKEUP : WAKEUP);
const out = args.out ?? (args.quick ? undefined : path.join(ROOT, relaysSuite ? 'docs/relays-bench.md' : 'docs/benchmarks.md'));

const started = Date.now();
const deadline = started + args.deadlineMin * 60_000;
const log = (msg) => console.log(msg);
const fmt = (n, d = 1) => (typeof n === 'number' && Number.isFinite(n) ? n.toFixed(d) : 'n/a');

// Enough file descriptors for the biggest workload (the npm script raises the soft limit).
const maxS = Math.max(0, ...workloads.map((w) => w.subscribers), ...inspects.map((w) => w.subscribers), ...wakeups);
let fdLimit = Infinity;
try {
  const limits = await readFile('/proc/self/limits', 'utf8');
  fdLimit = Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? Infinity);
} catch {}
if (fdLimit < maxS + 200) log(`warning: the open-files limit is ${fdLimit}, below ${maxS + 200}: raise it (ulimit -n) or expect failed subscribers`);

const info = {
  date: new Date().toISOString(),
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  machine: await machine(),
  node: process.version,
  fdLimit,
  runs,
  targets: targets.map(({ name, description, relayAfter, relaySize }) => ({
    name,
    description,
    ...(relayAfter !== undefined ? { relayAfter, relaySize } : {}),
  })),
  ...(relaysSuite ? { suite: 'relays', relayAfter, relaySize, infoAfterMs: RELAYS_INFO_AFTER_MS } : {}),
  workloads,
  inspects,
  wakeups,
  wakeupQuietS: args.wakeupQuiet,
  micro,
  deadlineMin: args.deadlineMin,
  source: source(),
};
log(
  `Herald bench: ${targets.map((t) => t.name).join(', ')} × ${workloads.map((w) => w.name).join(', ')}${micro ? ', micro' : ''}` +
    `${inspects.length ? `; inspected ${inspects.map((w) => w.name).join(', ')}` : ''}${wakeups.length ? `; wake-up at ${wakeups.join(', ')}` : ''} × ${runs} run(s); ` +
    `${info.machine.nproc} cores, ${fmt(info.machine.memGiB, 0)} GiB; bound ${args.deadlineMin} min`,
);

const results = [];
const skipped = [];
let stopping = false;
const live = new Set(); // started instances, stopped on the way out whatever happens
const hardStop = async (code) => {
  await Promise.race([Promise.allSettled([...live].map((i) => i.stop())), new Promise((r) => setTimeout(r, 15_000))]);
  process.exit(code);
};
process.on('SIGINT', () => {
  if (stopping) return void hardStop(130);
  stopping = true;
  log('\ninterrupted: finishing the current run, then writing what there is (^C again to stop now)');
});
process.on('SIGTERM', () => void hardStop(143));

/** Starts the target (a second try if the first start fails), runs `fn` on it, always stops it. */
async function withTarget(target, options, fn) {
  let instance;
  try {
    instance = await target.start({ log, ...options });
  } catch (error) {
    log(`\n  ${target.name} did not start (${error.message.split('\n')[0]}); trying once more`);
    instance = await target.start({ log, ...options });
  }
  live.add(instance);
  try {
    return await fn(instance);
  } catch (error) {
    error.message += `\n  target output (tail): ${(instance.output?.() ?? '').slice(-800)}`;
    throw error;
  } finally {
    await instance.stop();
    live.delete(instance);
  }
}

// Run-major, then job-major order: every target gets run 1 before any gets run 2, and
// within a run the targets take each job in turn (old, new and Nchan back to back), so
// that a burst of load from elsewhere on the machine does not hit one target only.
const jobs = [
  ...workloads.map((w) => ({ kind: 'workload', workload: w, label: w.name })),
  ...inspects.map((w) => ({ kind: 'inspect', workload: w, label: `inspect:${w.name}`, only: (t) => t.inspectable })),
  ...wakeups.map((S) => ({ kind: 'wakeup', workload: { subscribers: S }, label: `wakeup:${S}`, only: (t) => t.inspectable })),
  ...(micro ? [{ kind: 'micro', label: 'micro' }] : []),
  ...(heapOnly ? [{ kind: 'heap', label: 'heap', only: (t) => t.isolateHeap }] : []),
];
for (let run = 1; run <= runs; run++) {
  for (const job of jobs) {
    for (const target of targets) {
      if (job.only && !job.only(target)) continue;
      const label = job.label;
      if (stopping || Date.now() > deadline) {
        skipped.push({ target: target.name, workload: label, run });
        continue;
      }
      process.stdout.write(`run ${run}/${runs} ${target.name} ${label} … `);
      // Open files: a process of the target holds about fdsPerSubscriber descriptors per
      // subscriber, and cannot get more than the limit it inherits (the hard limit is
      // the ceiling: raising it needs CAP_SYS_RESOURCE).
      let fdNote;
      if (job.workload) {
        const need = job.workload.subscribers * (target.fdsPerSubscriber ?? 1) + 100;
        if (need > fdLimit * (target.fdExhaustionFatal ? 1 : 1.1)) {
          const reason = `not measurable here: ${target.name} needs about ${need.toLocaleString('en-US')} open files in one process for ${job.workload.subscribers.toLocaleString('en-US')} subscribers (${target.fdsPerSubscriber} per subscriber) and the limit is ${fdLimit.toLocaleString('en-US')}`;
          results.push({ target: target.name, workload: label, kind: job.kind, run, ok: false, unmeasurable: true, error: reason });
          log(reason);
          continue;
        }
        if (need > fdLimit)
          fdNote = `${target.name} needs about ${need.toLocaleString('en-US')} open files in one process for ${job.workload.subscribers.toLocaleString('en-US')} subscribers (${target.fdsPerSubscriber} per subscriber) and the limit is ${fdLimit.toLocaleString('en-US')}: the last subscribers can fail to open for that reason alone`;
      }
      const t0 = Date.now();
      try {
        const r = await withTarget(target, { inspector: job.kind === 'heap' || job.kind === 'inspect' }, async (instance) => {
          if (job.kind === 'micro') return runMicro(instance, { batch: target.batch, budgetMs: args.quick ? 1000 : 3000 });
          if (job.kind === 'heap') return runHeap(instance, { subscribers: args.quick ? 200 : 2000 });
          if (job.kind === 'wakeup') {
            // Only the current design hibernates: a second, longer quiet is tried there only.
            const r = await runWakeup(
              instance,
              { subscribers: job.workload.subscribers, quietS: args.wakeupQuiet, retryQuietS: target === heraldOld ? undefined : 20 },
              { log },
            );
            if (r.deliveries < r.expectedDeliveries || r.connected < r.subscribers) r.targetSaid = problemLines(instance.output?.() ?? '');
            return r;
          }
          // The relays suite: the channel info at the end (subscribers, relays) and workerd's threads.
          const extra = relaysSuite ? { infoAfterMs: RELAYS_INFO_AFTER_MS, threads: job.kind !== 'inspect' } : {};
          const r =
            job.kind === 'inspect'
              ? await runInspected(instance, job.workload, { log, label: `${target.name}-${job.workload.name.replace('@', '-at-')}`, ...extra })
              : await runWorkload(instance, job.workload, { log, ...extra });
          if (r.lost || r.connectErrors.length || r.publishErrors) r.targetSaid = problemLines(instance.output?.() ?? '');
          if (r.targetSaid) log(`  ${target.name} said: ${r.targetSaid}`);
          return r;
        });
        results.push({ target: target.name, workload: label, kind: job.kind, run, ok: true, ...(fdNote ? { fdNote } : {}), ...r });
        const secs = `(${((Date.now() - t0) / 1000).toFixed(1)} s)`;
        if (job.kind === 'heap') {
          log(`isolate heap ${fmt(r.heapKBPerSubscriber)} KB per subscriber (${r.heapSubscribers} open: ${fmt(r.heapMBWithSubscribers)} MB) ${secs}`);
        } else if (job.kind === 'micro') {
          log(`single ${fmt(r.singleAcksPerSec, 0)} acks/s, batch ${fmt(r.batchEventsPerSec, 0)} ev/s, replay 1000 in ${fmt(r.replay1000Ms, 0)} ms ${secs}`);
        } else if (job.kind === 'wakeup') {
          const p = (x) => `ack ${fmt(x.ackMs)} ms, all ${x.received}/${r.connected} in ${fmt(x.allMs)} ms, ${fmt(x.cpuMs)} ms CPU`;
          log(
            `${r.connected}/${r.subscribers} open, hibernated after ${r.quietS} s: ${r.hibernated}; first: ${p(r.first)}; second: ${p(r.second)}; counted ${r.countedBefore} → ${r.countedAfter} ${secs}`,
          );
        } else {
          const prof = r.profile;
          log(
            `${r.connected}/${r.subscribers} open in ${fmt(r.connectMs, 0)} ms, delivered ${r.delivered}/${r.expected}, p50 ${fmt(r.p50)} p99 ${fmt(r.p99)} ms, ` +
              `${fmt(r.cpuUsPerDelivery)} µs CPU/delivery, ${fmt(r.memKBPerSubscriber)} KB/sub, gen ${fmt(r.genCores * 100, 0)}% of a core` +
              (prof
                ? `; object ${fmt(prof.object.share * 100)} % (${fmt(prof.object.usPerDelivery)} µs/delivery), edge ${fmt(prof.edge.share * 100)} %, heap object ${fmt(r.objectHeapKBPerSubscriber, 2)} KB/sub, edge ${fmt(r.edgeHeapKBPerSubscriber, 2)} KB/sub`
                : '') +
              (prof && relaysSuite
                ? `; root ${fmt(prof.object.busyUs / r.published, 0)} µs/event${prof.relay ? `, relay isolate ${fmt(prof.relay.usPerDelivery, 2)} µs/delivery` : ''}`
                : '') +
              (r.channelInfo ? `; info: ${r.channelInfo.error ?? `${r.channelInfo.subscribers} subscribers, ${r.channelInfo.relays} relays`}` : '') +
              (r.threads
                ? `; busiest workerd threads ${r.threads
                    .slice(0, 3)
                    .map((x) => `${x.name} ${fmt(x.ms, 0)} ms`)
                    .join(', ')}`
                : '') +
              ` ${secs}`,
          );
        }
      } catch (error) {
        results.push({ target: target.name, workload: label, kind: job.kind, run, ok: false, error: error.message.slice(0, 2000) });
        log(`FAILED: ${error.message.slice(0, 1500)}`);
      }
    }
  }
}

info.elapsedMin = (Date.now() - started) / 60_000;
info.versions = await versions();
info.skipped = skipped;
const report = relaysSuite ? renderRelaysReport({ info, results, targets: info.targets, workloads }) : renderReport({ info, results, targets, workloads });
console.log(`\n${report.summary}`);
if (out) {
  await writeReport(out, report);
  await writeFile(`${out.replace(/\.md$/, '')}.json`, `${JSON.stringify({ info, results }, null, 1)}\n`);
  log(`written to ${path.relative(ROOT, out)} and ${path.relative(ROOT, `${out.replace(/\.md$/, '')}.json`)} (${fmt(info.elapsedMin)} min)`);
} else {
  const file = path.join(os.tmpdir(), `herald-bench-${Date.now()}.json`);
  await writeFile(file, `${JSON.stringify({ info, results }, null, 1)}\n`);
  log(`raw results in ${file} (${fmt(info.elapsedMin)} min; pass --out FILE to write the report)`);
}
process.exit(0);

/** Writes the report, keeping the hand-written notes below the marker of the file it replaces. */
async function writeReport(file, report) {
  await mkdir(path.dirname(file), { recursive: true });
  let notes = '';
  try {
    const previous = await readFile(file, 'utf8');
    const at = previous.indexOf(report.notesMarker);
    if (at !== -1) notes = previous.slice(at + report.notesMarker.length);
  } catch {}
  await writeFile(file, report.markdown + report.notesMarker + (notes || '\n'));
}

/** The lines of a target's output that say what went wrong, ANSI colours removed. */
function problemLines(output) {
  const lines = output
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC.
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /error|uncaught|too many|crash|overloaded|exceeded|refused|killed|memory/i.test(l));
  return [...new Set(lines)].slice(0, 4).join(' / ').slice(0, 600) || undefined;
}

async function versions() {
  const pkg = async (p) => {
    try {
      return JSON.parse(await readFile(path.join(ROOT, 'node_modules', p, 'package.json'), 'utf8')).version;
    } catch {
      return '?';
    }
  };
  return {
    wrangler: await pkg('wrangler'),
    miniflare: await pkg('miniflare'),
    workerd: await pkg('workerd'),
    nchan: targets.includes(nchan) ? nchanVersion() : 'not measured',
  };
}

/** The commit the working tree's Herald comes from, and which of its files differ from it. */
function source() {
  try {
    const git = (...a) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' });
    return {
      head: git('rev-parse', '--short', 'HEAD').trim(),
      changed: git('status', '--porcelain', '--', 'src', 'wrangler.toml')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.slice(3)),
    };
  } catch {
    return null;
  }
}
