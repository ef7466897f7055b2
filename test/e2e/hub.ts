/**
 * End-to-end harness: runs the real Worker under `wrangler dev` (workerd processes,
 * Durable Objects with SQLite persisted to a directory) and talks to it over loopback.
 *
 * Wrangler is started in its own process group, so `stop()` and `kill()` reach its
 * workerd children too: `stop()` is a clean shutdown (SIGTERM, SIGKILL after a bound),
 * `kill()` is a crash (SIGKILL at once). Every wait here is bounded and rejects with a
 * message that says what it was waiting for.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WRANGLER = join(ROOT, 'node_modules/wrangler/bin/wrangler.js');

/** The local development publish key, from .dev.vars. */
export const PUBLISH_KEY = 'herald-dev-key';
export const AUTH = { Authorization: `Bearer ${PUBLISH_KEY}` } as const;

/** How long wrangler may take to answer GET /healthz after it is spawned. */
const START_TIMEOUT_MS = 45_000;
/** How long a SIGTERMed wrangler may take to exit before it is SIGKILLed. */
const STOP_GRACE_MS = 10_000;
/** How long the process group may take to vanish after SIGKILL. */
const KILL_TIMEOUT_MS = 5_000;
/** Bound on one plain (non-streaming) HTTP request to the hub. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Wrangler's output kept for error messages (the tail only). */
const OUTPUT_KEEP_CHARS = 64_000;

// ---------------------------------------------------------------- bounded waits

/** Resolves as `promise` does, or rejects after `ms` with "timed out after … waiting for <what>". */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` until it returns true, for at most `ms`. The rejection names `what` and,
 * when given, `describe()` of the last state seen.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  { intervalMs = 50, describe }: { intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${describe ? `; last seen: ${describe()}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the hub's channel info counts `n` subscribers on `channel`; the rejection says the last count. */
export async function untilSubscribers(
  hub: { info(channel: string): Promise<{ subscribers: number }> },
  channel: string,
  n: number,
  ms: number,
  what: string,
  intervalMs?: number,
): Promise<void> {
  let subscribers = -1;
  const check = async () => {
    subscribers = (await hub.info(channel)).subscribers;
    return subscribers === n;
  };
  await until(check, ms, what, { describe: () => `subscribers ${subscribers}`, ...(intervalMs === undefined ? {} : { intervalMs }) });
}

// ---------------------------------------------------------------- temp dirs and ports

/** A fresh directory under the OS temp dir; remove it with {@link removeDir}. */
export function tempDir(prefix = 'herald-e2e-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * A copy of the Worker as it is now (src/, public/, wrangler.toml, .dev.vars) in a temp dir,
 * with node_modules linked. `wrangler dev` watches its sources and reloads the Worker
 * when one changes, breaking every open stream: run from a copy, a hub is immune to
 * edits made to the work tree while the tests run, and a restarted hub runs the same
 * code as the one before it. Remove it with {@link removeDir}.
 */
export async function snapshotApp(): Promise<string> {
  const dir = await tempDir('herald-e2e-app-');
  for (const folder of ['src', 'public']) await cp(join(ROOT, folder), join(dir, folder), { recursive: true });
  for (const file of ['wrangler.toml', '.dev.vars', 'package.json', 'tsconfig.json']) {
    if (existsSync(join(ROOT, file))) await copyFile(join(ROOT, file), join(dir, file));
  }
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** `n` distinct ports that were free on 127.0.0.1 a moment ago (held together, so none repeats). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.on('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

// ---------------------------------------------------------------- plain HTTP

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/**
 * One request on a fresh connection (no keep-alive pool, so nothing stale survives a
 * hub restart), bounded by {@link REQUEST_TIMEOUT_MS}.
 */
export function request(
  url: string,
  { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<HttpResult> {
  const what = `${method} ${url}`;
  return within(
    new Promise<HttpResult>((resolve, reject) => {
      const req = http.request(url, { method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', (err) => reject(new Error(`${what} failed: ${err.message}`)));
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${what}: no answer in ${REQUEST_TIMEOUT_MS} ms`)));
      req.end(body);
    }),
    REQUEST_TIMEOUT_MS + 1_000,
    what,
  );
}

// ---------------------------------------------------------------- the API's shapes (docs/api.md)

export interface PublishResponse {
  channel: string;
  ids: string[];
  subscribers: number;
}

// The hub's own response types: the tests read what the Worker declares it answers.
import type { ChannelInfo, HistoryPage } from '../../src/channel';
export type { ChannelInfo, HistoryPage };

/** A JSON publish body: one event, or a batch of up to 100. */
export type PublishBody = { data: unknown; event?: string } | { events: Array<{ data: unknown; event?: string }> };

// ---------------------------------------------------------------- the hub

export interface HubOptions {
  /** Where Durable Object storage lives; the same directory on restart keeps the channels. */
  persistTo: string;
  /**
   * A {@link snapshotApp} directory to run, owned by the caller (give a restarted hub the
   * one its predecessor ran). Without it the hub snapshots the work tree and owns that copy.
   */
  app?: string;
  /** Defaults to a free port. */
  port?: number;
  /** Worker vars, passed as `--var NAME:VALUE` (they override wrangler.toml's). */
  vars?: Record<string, string | number>;
}

/** Node ≥ 22 for wrangler: the one running vitest if it is new enough, else the `node` devDependency. */
function nodeForWrangler(): string {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22) return process.execPath;
  const local = join(ROOT, 'node_modules/node/bin/node');
  if (existsSync(local)) return local;
  throw new Error(`wrangler needs Node ≥ 22 and this is ${process.version}; run the tests through npx/npm so the node devDependency is used.`);
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** Process groups of hubs not yet stopped: if the test process exits without stopping them, they die with it. */
const running = new Set<number>();
process.once('exit', () => {
  for (const pgid of running) signalGroup(pgid, 'SIGKILL');
});

export class Hub {
  readonly url: string;
  #output = '';
  #child: ChildProcess;
  #exit: Promise<void>;
  #stopped: Promise<void> | undefined;

  private constructor(
    readonly port: number,
    readonly persistTo: string,
    readonly vars: Record<string, string | number>,
    /** The snapshot of the Worker this hub runs (see {@link snapshotApp}). */
    readonly app: string,
    /** True when the hub made `app` itself and removes it once stopped. */
    readonly ownsApp: boolean,
    inspectorPort: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    const args = [
      WRANGLER,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--persist-to',
      persistTo,
      // The inspector defaults to port 9229: a second hub would fail to start on it.
      '--inspector-port',
      String(inspectorPort),
      '--show-interactive-dev-session=false',
      '--log-level',
      'info',
    ];
    for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
    this.#child = spawn(nodeForWrangler(), args, {
      cwd: app,
      detached: true, // its own process group: one signal reaches workerd as well
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_SEND_METRICS: 'false',
        NO_COLOR: '1',
        FORCE_COLOR: '0',
      },
    });
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-OUTPUT_KEEP_CHARS);
    };
    this.#child.stdout?.on('data', keep);
    this.#child.stderr?.on('data', keep);
    this.#exit = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    if (this.#child.pid !== undefined) running.add(this.#child.pid);
  }

  /**
   * Spawns `wrangler dev` and resolves once GET /healthz answers 200. Rejects after
   * 45 s, or as soon as wrangler exits, with wrangler's output in the message.
   */
  static async start({ persistTo, port, vars = {}, app }: HubOptions): Promise<Hub> {
    const [a = 0, b = 0, c = 0] = await freePorts(3);
    const hubPort = port ?? a;
    const inspectorPort = b !== hubPort ? b : c;
    const hub = new Hub(hubPort, persistTo, { ...vars }, app ?? (await snapshotApp()), app === undefined, inspectorPort);
    try {
      await hub.#waitReady();
      return hub;
    } catch (err) {
      await hub.kill();
      throw err;
    }
  }

  /** Wrangler's stdout and stderr so far (the tail), for failure messages. */
  output(): string {
    return this.#output;
  }

  /** {@link request}, with the tail of wrangler's output in the message of a failed one. */
  async #request(url: string, init: Parameters<typeof request>[1]): Promise<HttpResult> {
    try {
      return await request(url, init);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- wrangler output (tail) ---\n${this.#output.slice(-3_000)}`);
    }
  }

  async #waitReady(): Promise<void> {
    let exited = false;
    void this.#exit.then(() => (exited = true));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (exited) {
        throw new Error(`wrangler dev exited (code ${this.#child.exitCode}) before ${this.url}/healthz answered; its output:\n${this.#output}`);
      }
      // A failed build or a port in use: wrangler keeps running (watching) but never serves.
      if (/\[ERROR\]/.test(this.#output)) {
        throw new Error(`wrangler dev reported an error before ${this.url}/healthz answered; its output:\n${this.#output}`);
      }
      const ok = await new Promise<boolean>((resolve) => {
        const req = http.get(`${this.url}/healthz`, { agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        });
        req.on('error', () => resolve(false));
        req.setTimeout(2_000, () => req.destroy());
      });
      if (ok) return;
      await sleep(200);
    }
    throw new Error(`wrangler dev did not answer ${this.url}/healthz with 200 within ${START_TIMEOUT_MS} ms; its output:\n${this.#output}`);
  }

  /** Clean shutdown: SIGTERM to the process group, SIGKILL if it is still there after 10 s. */
  stop(): Promise<void> {
    this.#stopped ??= this.#end('SIGTERM');
    return this.#stopped;
  }

  /** A crash: SIGKILL to the whole process group, nothing gets to flush or say goodbye. */
  kill(): Promise<void> {
    this.#stopped ??= this.#end('SIGKILL');
    return this.#stopped;
  }

  async #end(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    try {
      await this.#signalAndWait(signal);
      if (this.#child.pid !== undefined) running.delete(this.#child.pid);
    } finally {
      if (this.ownsApp) await removeDir(this.app);
    }
  }

  async #signalAndWait(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const pgid = this.#child.pid;
    if (pgid === undefined) return;
    signalGroup(pgid, signal);
    if (signal === 'SIGTERM') {
      try {
        await until(() => !groupAlive(pgid), STOP_GRACE_MS, `wrangler (process group ${pgid}) to exit after SIGTERM`, { intervalMs: 100 });
        await within(this.#exit, KILL_TIMEOUT_MS, 'wrangler to exit after SIGTERM');
        return;
      } catch {
        signalGroup(pgid, 'SIGKILL');
      }
    }
    await until(() => !groupAlive(pgid), KILL_TIMEOUT_MS, `wrangler (process group ${pgid}) to vanish after SIGKILL`, { intervalMs: 50 });
    await within(this.#exit, KILL_TIMEOUT_MS, 'wrangler to exit after SIGKILL');
  }

  // -------------------------------------------------------------- API helpers

  /** `/v1/channels/{channel}/events` with an optional query, as an absolute URL. */
  eventsUrl(channel: string, query: Record<string, string> = {}): string {
    const qs = new URLSearchParams(query).toString();
    return `${this.url}/v1/channels/${channel}/events${qs ? `?${qs}` : ''}`;
  }

  /**
   * Publishes with the publish key and returns the 201 body; anything else rejects with
   * the status and body. A string is sent as `text/plain` (its `event` as `?event=`),
   * an object as `application/json`.
   */
  async publish(
    channel: string,
    body: string | PublishBody,
    { event, headers = {} }: { event?: string; headers?: Record<string, string> } = {},
  ): Promise<PublishResponse> {
    const json = typeof body !== 'string';
    const url = this.eventsUrl(channel, event === undefined ? {} : { event });
    const res = await this.#request(url, {
      method: 'POST',
      headers: { ...AUTH, 'Content-Type': json ? 'application/json' : 'text/plain; charset=utf-8', ...headers },
      body: json ? JSON.stringify(body) : body,
    });
    if (res.status !== 201) throw new Error(`POST ${url} answered ${res.status}, not 201: ${res.text}`);
    return JSON.parse(res.text) as PublishResponse;
  }

  /** `GET /v1/channels/{channel}` with the publish key. */
  async info(channel: string): Promise<ChannelInfo> {
    const res = await this.#request(`${this.url}/v1/channels/${channel}`, { headers: { ...AUTH } });
    if (res.status !== 200) throw new Error(`GET /v1/channels/${channel} answered ${res.status}: ${res.text}`);
    return JSON.parse(res.text) as ChannelInfo;
  }

  /** The JSON history (`Accept: application/json`), one page. */
  async history(channel: string, { after, limit }: { after?: number; limit?: number } = {}): Promise<HistoryPage> {
    const query: Record<string, string> = {};
    if (after !== undefined) query.after = String(after);
    if (limit !== undefined) query.limit = String(limit);
    const url = this.eventsUrl(channel, query);
    const res = await this.#request(url, { headers: { Accept: 'application/json' } });
    if (res.status !== 200) throw new Error(`GET ${url} (JSON history) answered ${res.status}: ${res.text}`);
    return JSON.parse(res.text) as HistoryPage;
  }
}

/** Starts a hub; see {@link Hub.start}. */
export function startHub(options: HubOptions): Promise<Hub> {
  return Hub.start(options);
}

/** A channel name no other test uses. */
export function uniqueChannel(prefix = 'e2e'): string {
  return `${prefix}-${crypto.randomUUID()}`;
}
