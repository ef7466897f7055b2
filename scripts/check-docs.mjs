#!/usr/bin/env node
// Checks that the docs hold together, for a reader of a fresh clone (issue 10):
//
// 1. Links. In README.md, client/README.md, docs/*.md and bench/README.md, every relative
//    markdown link (`[x](path)`, `[x](path#anchor)`, `[x](#anchor)`, `![x](path)`,
//    `[x]: path`) resolves to a file or folder inside the repository that a clone has
//    (tracked, or new and not ignored), never outside it (`../shared/…`); an `#anchor`
//    matches the GitHub slug of a heading in the target.
// 2. Citations. In src/, test/, client/, bench/ and public/, every `docs/api.md "Name"`,
//    `docs/api.md, "Name"` or `docs/api.md's "Name"` (also several: `docs/api.md "A", "B"
//    and "C"`) names a heading or a bold lead-in (`**Name**`) of docs/api.md; a heading
//    `Name — GET /…` is found as `Name` too. A quotation, `docs/api.md: "text"`, must
//    appear in docs/api.md word for word.
//
// Plain Node ESM, no dependencies (Node 20+). Exit 1 with the list of failures, else one
// line: OK.
//
//   node scripts/check-docs.mjs

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONTRACT = 'docs/api.md';
const CITING_DIRS = ['src', 'test', 'client', 'bench', 'public'];
const CITING_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx', '.js', '.mjs', '.cjs', '.jsx', '.html', '.css', '.json', '.md', '.toml', '.sh']);
const SKIP_DIRS = new Set(['node_modules', '.git', '.wrangler', 'dist', 'test-results']);

const failures = [];
const fail = (where, message) => failures.push(`${where}: ${message}`);
const rel = (path) => relative(ROOT, path).split(sep).join('/');

// ---------------------------------------------------------------- what a clone has

/** Files a fresh clone has: tracked, plus new ones not ignored (so that a check before a commit passes). Null without git. */
function cloneFiles() {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const files = new Set();
    const dirs = new Set(['']);
    for (const file of out.split('\0').filter(Boolean)) {
      if (!existsSync(join(ROOT, file))) continue; // deleted in the working tree
      files.add(file);
      for (let d = dirname(file); d !== '.' && !dirs.has(d); d = dirname(d)) dirs.add(d);
    }
    return { files, dirs };
  } catch {
    return null;
  }
}

const clone = cloneFiles();

/** 'file', 'dir' or null for a path relative to the repository root. */
function kindOf(path) {
  if (clone) return clone.files.has(path) ? 'file' : clone.dirs.has(path) ? 'dir' : null;
  const abs = join(ROOT, path);
  if (!existsSync(abs)) return null;
  return statSync(abs).isDirectory() ? 'dir' : 'file';
}

// ---------------------------------------------------------------- markdown

/** The text with fenced code blocks and inline code blanked out, newlines kept (so line numbers hold). */
function withoutCode(text) {
  // Inline code spans: a run of backticks up to the same run (may wrap lines within a paragraph).
  return withoutFences(text).replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (m) => m.replace(/[^\n]/g, ' '));
}

const lineAt = (text, index) => text.slice(0, index).split('\n').length;

/** The text a heading renders as (markdown syntax removed), as GitHub slugs it. */
function headingText(raw) {
  return raw
    .replace(/\s+#+\s*$/, '') // closing #s
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // HTML tags
    .replace(/`/g, '')
    .replace(/(\*\*|__|\*|~~)/g, '')
    .trim();
}

/** GitHub's heading anchor (github-slugger): lower case, punctuation dropped, spaces to hyphens. */
function slug(text) {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Headings of a markdown file: their text, and the anchors GitHub gives them (duplicates numbered). */
function headingsOf(text) {
  const lines = withoutFences(text).split('\n');
  const headings = [];
  for (let i = 0; i < lines.length; i++) {
    const atx = lines[i].match(/^\s{0,3}#{1,6}\s+(.*)$/);
    if (atx) {
      headings.push(headingText(atx[1]));
      continue;
    }
    // Setext: a paragraph line underlined with = or -.
    const next = lines[i + 1];
    if (
      next !== undefined &&
      /^\s{0,3}(=+|-+)\s*$/.test(next) &&
      lines[i].trim() !== '' &&
      !/^\s*([-*+]|\d+\.)\s/.test(lines[i]) &&
      !/^\s{0,3}#/.test(lines[i]) &&
      !/^\s*\|/.test(lines[i])
    ) {
      headings.push(headingText(lines[i]));
      i++;
    }
  }
  const anchors = new Set();
  const seen = new Map();
  for (const heading of headings) {
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  // Explicit anchors: <a name="x"> or id="x".
  for (const m of text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]);
  return { headings, anchors };
}

/** Fenced code blocks blanked out (inline code in a heading is part of its text). */
function withoutFences(text) {
  let fence = null;
  return text
    .split('\n')
    .map((line) => {
      const open = line.match(/^\s*(`{3,}|~{3,})/);
      if (fence) {
        if (open && open[1][0] === fence[0] && open[1].length >= fence.length && /^\s*[`~]+\s*$/.test(line)) fence = null;
        return '';
      }
      if (open) {
        fence = open[1];
        return '';
      }
      return line;
    })
    .join('\n');
}

const anchorCache = new Map();
function anchorsOf(path) {
  if (!anchorCache.has(path)) anchorCache.set(path, headingsOf(readFileSync(join(ROOT, path), 'utf8')).anchors);
  return anchorCache.get(path);
}

// ---------------------------------------------------------------- 1. links

function docFiles() {
  const files = ['README.md', 'client/README.md', 'bench/README.md'];
  const docs = join(ROOT, 'docs');
  if (existsSync(docs)) for (const name of readdirSync(docs).sort()) if (name.endsWith('.md')) files.push(`docs/${name}`);
  return files.filter((f) => existsSync(join(ROOT, f)));
}

function checkLink(file, line, target) {
  const where = `${file}:${line}`;
  let dest = target.trim();
  if (dest.startsWith('<') && dest.endsWith('>')) dest = dest.slice(1, -1);
  if (dest === '') return fail(where, 'empty link');
  // Absolute URLs (http:, https:, mailto:, …) and protocol-relative ones are not ours to check.
  if (/^[a-z][a-z0-9+.-]*:/i.test(dest) || dest.startsWith('//')) return;
  const hash = dest.indexOf('#');
  const pathPart = hash === -1 ? dest : dest.slice(0, hash);
  const anchor = hash === -1 ? null : dest.slice(hash + 1);
  let path;
  try {
    path = decodeURIComponent(pathPart.split('?')[0]);
  } catch {
    return fail(where, `link '${dest}' is not a valid URL path`);
  }
  let targetPath;
  if (path === '') {
    targetPath = file;
  } else {
    const abs = path.startsWith('/') ? join(ROOT, path) : resolve(ROOT, dirname(file), path);
    const inside = rel(abs);
    if (inside.startsWith('..') || resolve(abs) === resolve(ROOT, '..')) {
      return fail(where, `link '${dest}' points outside the repository (to ${abs}); a clone does not have it`);
    }
    targetPath = inside.replace(/\/$/, '');
    const kind = kindOf(targetPath);
    if (kind === null) {
      const why = existsSync(abs) ? 'exists here but is not in the repository (untracked and ignored)' : 'does not exist';
      return fail(where, `link '${dest}': ${targetPath} ${why}`);
    }
    if (anchor !== null && kind === 'dir') return fail(where, `link '${dest}': an anchor into a folder`);
  }
  if (anchor === null || anchor === '') return;
  if (extname(targetPath).toLowerCase() !== '.md') return; // anchors into code files (#L10) are GitHub's
  let wanted;
  try {
    wanted = decodeURIComponent(anchor);
  } catch {
    wanted = anchor;
  }
  if (!anchorsOf(targetPath).has(wanted)) {
    const near = [...anchorsOf(targetPath)].filter((a) => a.includes(wanted.split('-')[0] ?? '')).slice(0, 3);
    fail(
      where,
      `link '${dest}': no heading in ${targetPath} has the anchor #${wanted}${near.length ? ` (nearest: ${near.map((a) => `#${a}`).join(', ')})` : ''}`,
    );
  }
}

let links = 0;
const linkFiles = docFiles();
for (const file of linkFiles) {
  const text = withoutCode(readFileSync(join(ROOT, file), 'utf8'));
  // Inline links and images: [text](dest "title"); the text may wrap lines.
  for (const m of text.matchAll(/!?\[((?:[^[\]]|\[[^[\]]*\])*)\]\(\s*(<[^>]*>|[^\s)]*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g)) {
    links++;
    checkLink(file, lineAt(text, m.index), m[2]);
  }
  // Reference definitions: [label]: dest
  for (const m of text.matchAll(/^[ \t]{0,3}\[([^\]\n]+)\]:[ \t]*(<[^>\n]*>|\S+)/gm)) {
    links++;
    checkLink(file, lineAt(text, m.index), m[2]);
  }
}

// ---------------------------------------------------------------- 2. citations of docs/api.md

const contractText = existsSync(join(ROOT, CONTRACT)) ? readFileSync(join(ROOT, CONTRACT), 'utf8') : null;
if (contractText === null) fail(CONTRACT, 'missing: it is the contract every citation points to');

const normal = (s) => s.replace(/`/g, '').replace(/\s+/g, ' ').replace(/[:.]$/, '').trim().toLowerCase();

/** What a citation may name: headings (also the part before ' — '), and bold lead-ins. */
function citableNames(text) {
  const names = new Set();
  for (const heading of headingsOf(text).headings) {
    names.add(normal(heading));
    const short = heading.split(/\s+[—–]\s+/)[0];
    if (short) names.add(normal(short));
  }
  const code = withoutFences(text);
  // A bold span that starts a line, a list item or a paragraph: **Name** or **Name**: …
  for (const m of code.matchAll(/^\s*(?:[-*+]\s+|\d+\.\s+)?\*\*([^*\n]+(?:\n[^*\n]+)?)\*\*/gm)) names.add(normal(m[1]));
  return names;
}

const names = contractText === null ? new Set() : citableNames(contractText);
const contractWords = contractText === null ? '' : normal(contractText.replace(/^\s*(?:\/\/|\*|-|>)\s?/gm, ''));

function* walk(dir) {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (CITING_EXTENSIONS.has(extname(entry.name))) yield path;
  }
}

// Between words of a citation a comment may wrap the line: whitespace, `*` and `//` are all space.
const GAP = String.raw`(?:\s|\*|//)`;
const NAME = String.raw`"([^"\n]{1,80})"`;
const CITATION = new RegExp(
  String.raw`docs/api\.md(?:'s)?(,?)${GAP}*${NAME}((?:${GAP}*,${GAP}*(?:and${GAP}+)?"[^"\n]{1,80}"|${GAP}+and${GAP}+"[^"\n]{1,80}")*)`,
  'g',
);
const QUOTATION = new RegExp(String.raw`docs/api\.md:${GAP}*"([^"]{1,300})"`, 'g');

let citations = 0;
for (const dir of CITING_DIRS) {
  for (const path of walk(join(ROOT, dir))) {
    const text = readFileSync(path, 'utf8');
    const file = rel(path);
    for (const m of text.matchAll(CITATION)) {
      const cited = [m[2], ...[...m[3].matchAll(/"([^"\n]{1,80})"/g)].map((n) => n[1])];
      for (const name of cited) {
        citations++;
        if (!names.has(normal(name))) fail(`${file}:${lineAt(text, m.index)}`, `cites ${CONTRACT} "${name}", which is no heading or bold lead-in there`);
      }
    }
    for (const m of text.matchAll(QUOTATION)) {
      citations++;
      const quoted = normal(m[1].replace(/\n\s*(?:\/\/|\*)\s?/g, ' '));
      if (!contractWords.includes(quoted)) fail(`${file}:${lineAt(text, m.index)}`, `quotes ${CONTRACT}: "${m[1]}", which it does not say`);
    }
  }
}

// ---------------------------------------------------------------- report

if (failures.length > 0) {
  console.error(`check-docs: ${failures.length} failure(s)\n`);
  for (const f of failures) console.error(`  ${f}`);
  console.error(`\nLinks must resolve inside the repository; citations of ${CONTRACT} must name one of its headings or bold lead-ins.`);
  process.exit(1);
}
console.log(`check-docs: OK (${links} links in ${linkFiles.length} files, ${citations} citations of ${CONTRACT})`);
