// CPU time and resident memory of process trees, read from /proc (Linux only).
import { execFileSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';

function conf(name, fallback) {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
}
const TICKS = conf('CLK_TCK', 100);
const PAGE = conf('PAGESIZE', 4096);

/** Every process: pid → { ppid, comm, cpu (s, user + system, all threads), rss (bytes) }. */
export async function processTable() {
  const table = new Map();
  const entries = await readdir('/proc');
  await Promise.all(
    entries.map(async (entry) => {
      if (!/^\d+$/.test(entry)) return;
      try {
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
        const close = stat.lastIndexOf(')');
        const comm = stat.slice(stat.indexOf('(') + 1, close);
        const f = stat.slice(close + 2).split(' ');
        // f[0] is field 3 (state): utime is field 14, stime 15, rss 24.
        table.set(Number(entry), {
          ppid: Number(f[1]),
          comm,
          cpu: (Number(f[11]) + Number(f[12])) / TICKS,
          rss: Number(f[21]) * PAGE,
        });
      } catch {
        // the process ended while we looked
      }
    }),
  );
  return table;
}

/** The pids of `root` and all its descendants. */
export function subtree(table, root) {
  const children = new Map();
  for (const [pid, p] of table) {
    if (!children.has(p.ppid)) children.set(p.ppid, []);
    children.get(p.ppid).push(pid);
  }
  const out = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.pop();
    if (!table.has(pid)) continue;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Descendants of `root` (not root itself) whose command name is `comm`. */
export async function descendantsNamed(root, comm) {
  const table = await processTable();
  return subtree(table, root).filter((pid) => pid !== root && table.get(pid).comm === comm);
}

/**
 * CPU seconds and resident bytes summed over the trees rooted at `roots` (each process
 * counted once), and how many processes that was. Never includes the caller's own process.
 */
export async function treeUsage(roots) {
  const table = await processTable();
  const pids = new Set();
  for (const root of roots) for (const pid of subtree(table, root)) if (pid !== process.pid) pids.add(pid);
  let cpu = 0;
  let rss = 0;
  for (const pid of pids) {
    cpu += table.get(pid).cpu;
    rss += table.get(pid).rss;
  }
  return { cpu, rss, processes: pids.size };
}

export async function machine() {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const kb = Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0);
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? 'unknown CPU';
  let nproc = 0;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {}
  let os = 'Linux';
  try {
    os = /PRETTY_NAME="([^"]*)"/.exec(await readFile('/etc/os-release', 'utf8'))?.[1] ?? os;
  } catch {}
  let kernel = '';
  try {
    kernel = (await readFile('/proc/sys/kernel/osrelease', 'utf8')).trim();
  } catch {}
  return { nproc, memGiB: kb / 2 ** 20, model, os, kernel };
}

/**
 * CPU seconds of `pids` and their descendants at nanosecond resolution: the sum over every
 * thread of the time on a CPU (/proc/<pid>/task/<tid>/schedstat), for measurements too short
 * for the 10 ms ticks of /proc/<pid>/stat. Threads that ended are not counted.
 */
export async function preciseCpu(roots) {
  const table = await processTable();
  const pids = new Set();
  for (const root of roots) for (const pid of subtree(table, root)) if (pid !== process.pid) pids.add(pid);
  let ns = 0;
  for (const thread of (await threadCpu(pids)).values()) ns += thread.ns;
  return ns / 1e9;
}

/**
 * CPU nanoseconds of every thread of `pids` (not their descendants), from schedstat:
 * Map `pid/tid` → { name (the thread's comm), ns }. Two snapshots tell which threads of a
 * process did the work (e.g. whether workerd ran all its isolates on one thread).
 */
export async function threadCpu(pids) {
  const out = new Map();
  for (const pid of pids) {
    let tids = [];
    try {
      tids = await readdir(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const ns = Number((await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8')).split(' ')[0]);
        const name = await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').then(
          (c) => c.trim(),
          () => '?',
        );
        out.set(`${pid}/${tid}`, { name, ns });
      } catch {}
    }
  }
  return out;
}

/** Per-thread CPU between two threadCpu snapshots, busiest first: [{ thread, name, ms }]. */
export function threadDelta(before, after) {
  const rows = [];
  for (const [thread, { name, ns }] of after) rows.push({ thread, name, ms: (ns - (before.get(thread)?.ns ?? 0)) / 1e6 });
  return rows.sort((a, b) => b.ms - a.ms);
}
