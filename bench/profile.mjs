#!/usr/bin/env node
// Where Herald's CPU goes under fan-out: runs one workload against the Worker alone in
// workerd (the herald-workerd target: the edge Worker and the Durable Object as two
// isolates; or herald-old, herald-shared, workerd-floor) and profiles it one of two ways:
//  - by default, V8's sampling profiler through workerd's DevTools inspector on the
//    object's isolate and the edge Worker's: CPU by source file (bench/lib/cpuprofile.mjs
//    says how samples are charged) and JavaScript functions by self time;
//  - with --perf, Linux perf on the workerd process (no inspector attached, since its
//    async hooks cost CPU of their own; needs root or perf_event_paranoid ≤ 1): time by
//    shared object and symbol, so workerd's C++/Rust (streams, HTTP, kj, SQLite) and the
//    kernel show too.
// Writes the .cpuprofile (open it in Chrome DevTools → Performance) and prints summaries.
//
//   node bench/profile.mjs [--workload 1000x200] [--perf] [--target herald-workerd|herald-old|herald-shared|workerd-floor]
//                          [--out /tmp/herald.cpuprofile]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleFiles, summarizeProfile } from './lib/cpuprofile.mjs';
import { now, sleep } from './lib/http.mjs';
import { runWorkload } from './lib/workload.mjs';
import { heraldOld, heraldShared, heraldWorkerd, workerdFloor } from './targets/herald.mjs';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i === -1 ? fallback : argv[i + 1];
};
const spec = opt('--workload', '1000x200');
const m = /^(\d+)x(\d+)(?:@(\d+))?$/.exec(spec);
if (!m) throw new Error(`--workload SxM[@rate], not ${spec}`);
const workload = { subscribers: Number(m[1]), events: Number(m[2]), ...(m[3] ? { rate: Number(m[3]) } : {}) };
const out = opt('--out', path.join(os.tmpdir(), `herald-${spec.replace('@', '-at-')}.cpuprofile`));
const withPerf = argv.includes('--perf');
const targetName = opt('--target', 'herald-workerd');
const target = [heraldWorkerd, heraldOld, heraldShared, workerdFloor].find((t) => t.name === targetName);
if (!target) throw new Error(`--target herald-workerd, herald-old, herald-shared or workerd-floor, not ${targetName}`);

const instance = await target.start({ inspector: !withPerf });
try {
  if (withPerf) {
    const [workerd] = await instance.measuredPids();
    if (!existsSync('/usr/bin/perf')) throw new Error('--perf needs /usr/bin/perf (apt-get install linux-perf)');
    const perfData = path.join(os.tmpdir(), `herald-perf-${process.pid}.data`);
    const perf = spawn('perf', ['record', '-F', '999', '-g', '-p', String(workerd), '-o', perfData], { stdio: ['ignore', 'ignore', 'pipe'] });
    await sleep(500);
    const result = await runWorkload(instance, workload, { log: console.log });
    perf.kill('SIGINT');
    await new Promise((r) => perf.once('exit', r));
    console.log(
      `\n${spec}: delivered ${result.delivered}/${result.expected}, p99 ${result.p99?.toFixed(1)} ms, ${result.cpuUsPerDelivery.toFixed(1)} µs CPU per delivery; perf data: ${perfData}`,
    );
    const report = (sort, limit) =>
      execFileSync('perf', ['report', '-i', perfData, '--no-children', '--sort', sort, '--stdio', '-q', '-g', 'none', '--percent-limit', limit], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      }).trim();
    console.log('\nperf, workerd process, by shared object:');
    console.log(report('dso', '0.5'));
    // Coarse buckets over every sampled symbol.
    const buckets = [
      ['kernel (TCP, scheduling, syscalls)', (dso) => dso.includes('kernel')],
      ['JavaScript (JIT code: Herald, Hono)', (dso) => dso.startsWith('[JIT]')],
      [
        'web streams (ReadableStream, pumping to the socket)',
        (_, sym) => /workerd::api::.*(Stream|Queue|pump|Readable|Writable)|pumpTo|ValueQueue|ByteQueue/i.test(sym),
      ],
      ['HTTP server and async I/O (Rust: hyper, tokio, futures)', (_, sym) => /hyper|tokio|futures_|kj_rs|listen_http|mio::|serve_connection/.test(sym)],
      ['V8 engine (handles, GC, calls into JS)', (_, sym) => /v8::|Builtins_|cppgc|heap::/.test(sym)],
      ['JS bindings (jsg)', (_, sym) => /workerd::jsg|jsg::/.test(sym)],
      ['memory allocator', (_, sym) => /tcmalloc|malloc|free|operator new|operator delete/.test(sym)],
      ['SQLite', (_, sym) => /sqlite/i.test(sym)],
      ['kj event loop and promises', (_, sym) => /kj::/.test(sym)],
    ];
    const sums = new Map();
    for (const line of report('dso,sym', '0').split('\n')) {
      const m = /^\s*([\d.]+)%\s+(\S+(?: tid \d+)?)\s+\[[.k]\]\s+(.*)$/.exec(line);
      if (!m) continue;
      const [, pct, dso, sym] = m;
      const name = buckets.find(([, f]) => f(dso, sym))?.[0] ?? 'other';
      sums.set(name, (sums.get(name) ?? 0) + Number(pct));
    }
    console.log('\nperf, workerd process, coarse buckets (by symbol name):');
    for (const [name, pct] of [...sums].sort((a, b) => b[1] - a[1])) console.log(`${pct.toFixed(1).padStart(6)} %  ${name}`);
    console.log('\nperf, top symbols:');
    console.log(
      report('dso,sym', '0.6')
        .split('\n')
        .map((l) => l.slice(0, 200))
        .join('\n'),
    );
    process.exitCode = 0;
  } else {
    // The target's own inspector sessions: workerd serves one per isolate.
    const isolates =
      instance.isolates.edge === instance.isolates.object
        ? { worker: instance.isolates.edge }
        : { object: instance.isolates.object, edge: instance.isolates.edge };
    for (const s of Object.values(isolates)) {
      await s.call('Profiler.enable');
      await s.call('Profiler.setSamplingInterval', { interval: 200 });
    }
    const t0 = now();
    let cpuUs = 0;
    const profiles = {};
    const result = await runWorkload(instance, workload, {
      log: console.log,
      hooks: {
        held: async () => {
          for (const s of Object.values(isolates)) await s.call('Profiler.start');
        },
        done: async ({ processCpuUs }) => {
          cpuUs = processCpuUs;
          for (const [name, s] of Object.entries(isolates)) profiles[name] = (await s.call('Profiler.stop')).profile;
        },
      },
    });
    console.log(
      `\n${spec} on ${target.name}: delivered ${result.delivered}/${result.expected}, p99 ${result.p99?.toFixed(1)} ms, ${result.cpuUsPerDelivery.toFixed(1)} µs CPU per delivery (profiler on), ${((now() - t0) / 1000).toFixed(1)} s`,
    );
    // Keep the bundle the profiles' line numbers refer to, and quote the hot lines.
    const bundleOut = `${out.replace(/\.cpuprofile$/, '')}.bundle.js`;
    await copyFile(instance.bundle, bundleOut);
    const text = await readFile(bundleOut, 'utf8');
    const lines = text.split('\n');
    const fileOf = bundleFiles(text);
    for (const [name, profile] of Object.entries(profiles)) {
      const file = out.replace(/\.cpuprofile$/, `-${name}.cpuprofile`);
      await writeFile(file, JSON.stringify(profile));
      const sum = summarizeProfile(profile, fileOf, 200);
      console.log(
        `\n${name} isolate (${file}): ${(sum.busyUs / 1000).toFixed(0)} ms of CPU = ${((100 * sum.busyUs) / cpuUs).toFixed(1)} % of the process's ${(cpuUs / 1000).toFixed(0)} ms, ${(sum.busyUs / result.delivered).toFixed(1)} µs per delivery`,
      );
      console.log(
        `  by source file (native code charged to its JavaScript caller): ${Object.entries(sum.files)
          .sort((a, b) => b[1] - a[1])
          .map(([f, us]) => `${f} ${(us / 1000).toFixed(0)} ms`)
          .join(', ')}`,
      );
      console.log(
        `  garbage collector ${(sum.gcUs / 1000).toFixed(0)} ms, native under the isolate's lock with no JavaScript on the stack ${(sum.programUs / 1000).toFixed(0)} ms (sampling period ${sum.periodUs} µs, ${sum.samples} samples)`,
      );
      // Self time by function (JS), one sampling period per sample.
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const self = new Map();
      for (const id of profile.samples) {
        const f = byId.get(id).callFrame;
        const key = `${f.functionName || '(anonymous)'} ${f.url ? `${fileOf(f.lineNumber + 1)} (bundle line ${f.lineNumber + 1})` : ''}`.trim();
        self.set(key, (self.get(key) ?? 0) + sum.periodUs);
      }
      console.log('  self time by function:');
      for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
        const line = /bundle line (\d+)\)$/.exec(k)?.[1];
        const code = line ? `   ${lines[Number(line) - 1]?.trim().slice(0, 70)}` : '';
        console.log(`${(us / 1000).toFixed(0).padStart(8)} ms  ${k}${code}`);
      }
    }
    console.log(`(line numbers refer to ${bundleOut})`);
  }
} finally {
  await instance.stop();
}
process.exit(0);
