#!/usr/bin/env node
// Where Herald's CPU goes under fan-out: runs one workload against the Worker alone in
// workerd (the herald-workerd target) and profiles it one of two ways:
//  - by default, V8's sampling profiler through workerd's DevTools inspector: JavaScript
//    functions of the Worker and the Durable Object, by self time;
//  - with --perf, Linux perf on the workerd process (no inspector attached, since its
//    async hooks cost CPU of their own; needs root or perf_event_paranoid ≤ 1): time by
//    shared object and symbol, so workerd's C++/Rust (streams, HTTP, kj, SQLite) and the
//    kernel show too.
// Writes the .cpuprofile (open it in Chrome DevTools → Performance) and prints summaries.
//
//   node bench/profile.mjs [--workload 1000x200] [--perf] [--target herald-workerd|workerd-floor]
//                          [--out /tmp/herald.cpuprofile]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { now, sleep } from './lib/http.mjs';
import { runWorkload } from './lib/workload.mjs';
import { heraldWorkerd, workerdFloor } from './targets/herald.mjs';

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
const target = opt('--target', 'herald-workerd') === 'workerd-floor' ? workerdFloor : heraldWorkerd;

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
    console.log(`\n${spec}: delivered ${result.delivered}/${result.expected}, p99 ${result.p99?.toFixed(1)} ms, ${result.cpuUsPerDelivery.toFixed(1)} µs CPU per delivery; perf data: ${perfData}`);
    const report = (sort, limit) => execFileSync('perf', ['report', '-i', perfData, '--no-children', '--sort', sort, '--stdio', '-q', '-g', 'none', '--percent-limit', limit], { encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
    console.log('\nperf, workerd process, by shared object:');
    console.log(report('dso', '0.5'));
    // Coarse buckets over every sampled symbol.
    const buckets = [
      ['kernel (TCP, scheduling, syscalls)', (dso) => dso.includes('kernel')],
      ['JavaScript (JIT code: Herald, Hono)', (dso) => dso.startsWith('[JIT]')],
      ['web streams (ReadableStream, pumping to the socket)', (_, sym) => /workerd::api::.*(Stream|Queue|pump|Readable|Writable)|pumpTo|ValueQueue|ByteQueue/i.test(sym)],
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
    console.log(report('dso,sym', '0.6').split('\n').map((l) => l.slice(0, 200)).join('\n'));
    process.exitCode = 0;
  } else {
    // The target's own inspector session: workerd serves one per isolate.
    const send = instance.inspect;
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 200 });

    await send('Profiler.start');
    const t0 = now();
    const result = await runWorkload(instance, workload, { log: console.log });
    const { profile } = await send('Profiler.stop');
    await writeFile(out, JSON.stringify(profile));

    console.log(`\n${spec}: delivered ${result.delivered}/${result.expected}, p99 ${result.p99?.toFixed(1)} ms, ${result.cpuUsPerDelivery.toFixed(1)} µs CPU per delivery, ${((now() - t0) / 1000).toFixed(1)} s`);
    console.log(`V8 profile of the Worker's isolate: ${out}`);

    // Self time by function (JS), from the samples.
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map();
    let total = 0;
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i]);
      const dt = profile.timeDeltas[i] ?? 0;
      total += dt;
      const f = node.callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
      self.set(key, (self.get(key) ?? 0) + dt);
    }
    // Keep the bundle the profile's line numbers refer to, and quote the hot lines.
    const bundleOut = out.replace(/\.cpuprofile$/, '') + '.bundle.js';
    await copyFile(instance.bundle, bundleOut);
    const lines = (await readFile(bundleOut, 'utf8')).split('\n');
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 30);
    console.log(`\nJS isolate, self time (of ${(total / 1e6).toFixed(1)} s sampled wall time; "(idle)" is the isolate waiting, "(program)" native work V8 cannot attribute):`);
    for (const [k, us] of top) {
      const line = /index\.js:(\d+)$/.exec(k)?.[1];
      const code = line ? `   ${lines[Number(line) - 1]?.trim().slice(0, 70)}` : '';
      console.log(`${((100 * us) / total).toFixed(1).padStart(6)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}${code}`);
    }
    console.log(`(line numbers refer to ${bundleOut})`);
  }
} finally {
  await instance.stop();
}
process.exit(0);
