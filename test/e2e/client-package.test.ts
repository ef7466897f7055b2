/**
 * The client as a user gets it (issue 10): `npm pack` in client/ builds it (its prepack) into
 * a tarball, which is installed into a fresh project in a temp dir. A plain .mjs script
 * there, with no bundler and no tsx, imports the package by name, subscribes to a channel of
 * the real Worker under `wrangler dev`, publishes to it with the package's publish(), and
 * prints what it got. It runs on the project's Node (24) and on every older major the
 * package's `engines` claims, the LTS ones: 22 (the runtimes/node22 workspace installs it
 * from the npm registry) and 20 (the machine's /usr/bin/node). Node strips no types under
 * node_modules, so only built JavaScript passes. The odd majors in between (21, 23) are
 * short-lived releases, past their end of life, and not tested.
 *
 * Under CI=true a claimed Node that is missing fails the test; elsewhere it is skipped.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLISH_KEY, removeDir, startHub, tempDir, uniqueChannel, type Hub } from './hub';

const run = promisify(execFile);

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLIENT = join(ROOT, 'client');

interface Manifest {
  name: string;
  version: string;
  engines?: { node?: string };
  devDependencies?: Record<string, string>;
}
const CLIENT_PACKAGE = JSON.parse(readFileSync(join(CLIENT, 'package.json'), 'utf8')) as Manifest;
const ROOT_PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;

/** The oldest major `engines.node` claims; only the `>=N` form is understood, so another form fails here rather than going untested. */
function enginesFloor(range: string | undefined, whose = 'client/package.json'): number {
  const match = /^>=\s*(\d+)(?:\.\d+){0,2}$/.exec(range?.trim() ?? '');
  if (!match) throw new Error(`${whose} engines.node is ${JSON.stringify(range)}; this test understands only ">=N"`);
  return Number(match[1]);
}

/** The project's Node: the root's `node` devDependency, which npm scripts and npx run. */
const PROJECT_MAJOR = Number(/\d+/.exec(ROOT_PACKAGE.devDependencies?.node ?? '')?.[0]);
if (!Number.isInteger(PROJECT_MAJOR)) throw new Error(`the root's node devDependency is ${ROOT_PACKAGE.devDependencies?.node}: no major in it`);
const FLOOR = enginesFloor(CLIENT_PACKAGE.engines?.node);
/** The majors to run on: every LTS (even) major from the engines floor up to the project's. */
const MAJORS = Array.from({ length: PROJECT_MAJOR - FLOOR + 1 }, (_, i) => FLOOR + i).filter((major) => major % 2 === 0);

/** A Node binary of this major: a runtimes/node<major> workspace's, the project's, or the machine's. */
function nodeOf(major: number): string | undefined {
  const candidates = [
    join(ROOT, `runtimes/node${major}/node_modules/node/bin/node`),
    join(ROOT, 'node_modules/node/bin/node'),
    '/usr/bin/node',
    '/usr/local/bin/node',
  ];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
    if (version.startsWith(`v${major}.`)) return path;
  }
  return undefined;
}
const NODES = new Map(MAJORS.map((major) => [major, nodeOf(major)]));
const missing = MAJORS.filter((major) => NODES.get(major) === undefined);
if (missing.length > 0 && process.env.CI) {
  throw new Error(
    `client/package.json claims Node ${CLIENT_PACKAGE.engines?.node}, but there is no Node ${missing.join(', ')} to test on: ` +
      'npm ci installs 22 (runtimes/node22) and the machine has 20 at /usr/bin/node.',
  );
}
if (missing.length > 0) console.warn(`client-package: no Node ${missing.join(', ')} here; those runs are skipped`);

/**
 * The environment for npm: without the npm_* variables of the npm or npx that started the
 * tests (npm_config_local_prefix and the like would point it at this repository), and with
 * `node` on PATH being `node` if given.
 */
function npmEnv(node?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'INIT_CWD' && name !== 'NODE') env[name] = value;
  }
  if (node) env.PATH = `${dirname(node)}:${env.PATH ?? ''}`;
  return env;
}

/** The user's script: plain JavaScript, the package imported by its name. */
const SCRIPT = `
import { HeraldError, publish, subscribe } from '${CLIENT_PACKAGE.name}';

const [url, channel, key] = process.argv.slice(2);
const deadline = setTimeout(() => {
  console.error('timed out: ' + JSON.stringify(received));
  process.exit(2);
}, 20000);

const received = [];
let opened;
const open = new Promise((resolve) => (opened = resolve));
let arrived;
const all = new Promise((resolve) => (arrived = resolve));
const subscription = subscribe(url, {
  channel,
  onOpen: () => opened(),
  onEvent: ({ channel, id, event, data, cursor }) => {
    received.push({ channel, id, event, data, cursor });
    if (received.length === 3) arrived();
  },
  onError: (error, info) => console.error('subscribe error', error, info),
});
await open;
const result = await publish(url, key, [{ data: 'hello' }, { event: 'note', data: { n: 2 } }, { data: 'two\\nlines' }], { channel });
await all;
const lastEventId = subscription.lastEventId;
subscription.close();
const closed = await subscription.closed;

let refused;
try {
  await publish(url, 'not-the-key', [{ data: 'no' }], { channel, retries: 0 });
} catch (error) {
  refused = { isHeraldError: error instanceof HeraldError, name: error.name, status: error.status, code: error.code };
}
clearTimeout(deadline);
console.log(JSON.stringify({
  node: process.version,
  resolved: import.meta.resolve('${CLIENT_PACKAGE.name}'),
  published: { channel: result.channel, ids: result.ids, replayed: result.replayed },
  received,
  lastEventId,
  closed,
  refused,
}));
`;

let hub: Hub;
let storage: string;
let packDir: string;
let project: string;
let packed: { filename: string; files: Array<{ path: string }> };
const timings: string[] = [];

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await work();
  } finally {
    timings.push(`${what} ${Date.now() - start} ms`);
  }
}

/** `npm pack` in client/ (prepack builds dist/), then `npm install` of the tarball into a fresh project. */
async function packAndInstall(): Promise<void> {
  packDir = await tempDir('herald-pack-');
  const { stdout } = await timed('npm pack', () => run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: CLIENT, env: npmEnv() }));
  [packed] = JSON.parse(stdout) as [typeof packed];

  project = await tempDir('herald-consumer-');
  await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'herald-consumer', private: true, type: 'module' }, null, 2)}\n`);
  await writeFile(join(project, 'consumer.mjs'), SCRIPT);
  // Run by the oldest claimed Node, with engine-strict: a dependency whose own engines
  // exclude it (eventsource-parser 4 declares Node >= 22.12) fails the install.
  const oldest = NODES.get(FLOOR);
  await timed('npm install', () =>
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--engine-strict', join(packDir, packed.filename)], {
      cwd: project,
      env: npmEnv(oldest),
    }),
  );
}

describe(`the ${CLIENT_PACKAGE.name} tarball`, () => {
  beforeAll(async () => {
    storage = await tempDir();
    [hub] = await Promise.all([timed('wrangler dev', () => startHub({ persistTo: storage })), packAndInstall()]);
  });

  afterAll(async () => {
    console.log(`client-package: ${timings.join(', ')}`);
    await hub?.stop();
    for (const dir of [storage, packDir, project]) if (dir) await removeDir(dir);
  });

  it('holds built JavaScript and declarations only, no TypeScript source', () => {
    const paths = packed.files.map((file) => file.path).sort();
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts']));
    for (const path of paths) expect(path).toMatch(/^(?:package\.json|README\.md|dist\/[a-z-]+\.(?:js|d\.ts))$/);
  });

  it('installs with its dependencies, whose engines admit every Node the package claims', async () => {
    const installed = JSON.parse(await readFile(join(project, 'node_modules', CLIENT_PACKAGE.name, 'package.json'), 'utf8')) as Manifest & {
      dependencies: Record<string, string>;
    };
    expect(installed).toMatchObject({ name: CLIENT_PACKAGE.name, version: CLIENT_PACKAGE.version, engines: CLIENT_PACKAGE.engines });
    for (const name of Object.keys(installed.dependencies)) {
      const dependency = JSON.parse(await readFile(join(project, 'node_modules', name, 'package.json'), 'utf8')) as Manifest;
      const whose = `${name}@${dependency.version}`;
      expect(enginesFloor(dependency.engines?.node, whose), `${whose} engines.node`).toBeLessThanOrEqual(FLOOR);
    }
  });

  it.for(MAJORS)('on Node %i, plain JavaScript imports it by name, subscribes and publishes against wrangler dev', async (major, { skip }) => {
    const node = NODES.get(major);
    if (node === undefined) return skip(`no Node ${major} here`);
    const channel = uniqueChannel('package');
    const { stdout } = await timed(`Node ${major}`, () =>
      run(node, ['consumer.mjs', hub.url, channel, PUBLISH_KEY], { cwd: project, timeout: 30_000, env: { PATH: process.env.PATH ?? '' } }),
    );
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out).toEqual({
      node: expect.stringMatching(new RegExp(`^v${major}\\.`)),
      resolved: expect.stringMatching(new RegExp(`/node_modules/${CLIENT_PACKAGE.name}/dist/index\\.js$`)),
      published: { channel, ids: ['1', '2', '3'], replayed: false },
      received: [
        { channel, id: '1', event: 'message', data: 'hello', cursor: '1' },
        { channel, id: '2', event: 'note', data: '{"n":2}', cursor: '2' },
        { channel, id: '3', event: 'message', data: 'two\nlines', cursor: '3' },
      ],
      lastEventId: '3',
      closed: { type: 'closed' },
      refused: { isHeraldError: true, name: 'HeraldError', status: 401, code: 'unauthorized' },
    });
  });
});

describe('client/ sources', () => {
  const sources = new Map(
    readdirSync(CLIENT)
      .filter((file) => /^[a-z-]+\.ts$/.test(file))
      .map((file) => [file, readFileSync(join(CLIENT, file), 'utf8')]),
  );

  it('import one another without a cycle', () => {
    const imports = new Map([...sources].map(([file, text]) => [file, [...text.matchAll(/from '\.\/([a-z-]+\.ts)'/g)].map((m) => m[1]!)]));
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (path.includes(file)) {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      for (const next of imports.get(file) ?? []) visit(next, [...path, file]);
    };
    for (const file of imports.keys()) visit(file, []);
    expect(sources.size).toBeGreaterThan(5);
    expect(cycles).toEqual([]);
  });

  it('use no Node-only module or global, so that a browser bundle needs nothing more', () => {
    for (const [file, text] of sources) {
      expect(text, file).not.toMatch(/from ['"]node:|\brequire\(|\bprocess\.|\bBuffer\b|\b__dirname\b/);
    }
  });
});
