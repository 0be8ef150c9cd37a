// Documentation that drifts from the tree: a contents list that does not match its sections, a path,
// link, variable, npm script or command that does not exist (any more).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { envSchema } from '../src/config/env-schema.js';
import { unknownVariables } from '../src/config/unknown-env.js';
import { helpFor, USAGE } from '../src/tooling/usage.js';
import { describeNeeding, findBinary } from './e2e/harness/process.js';
import { startWarden } from './helpers/warden.js';

const ROOT = join(import.meta.dirname, '..');

const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

/** The files under `dir` (a path from the root) whose name ends with one of `ends`, sorted. */
function filesUnder(dir: string, ends: string[] = ['']): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f.split('\\').join('/')))
    .filter((f) => ends.some((e) => f.endsWith(e)) && statSync(join(ROOT, f)).isFile())
    .sort();
}

/** The Markdown users read: the READMEs, CONTRIBUTING.md and docs/. */
const MARKDOWN = [
  'README.md',
  'CONTRIBUTING.md',
  'bench/README.md',
  ...filesUnder('docs', ['.md']),
  ...filesUnder('deploy', ['.md']),
];

/** Everything users read or copy, comments included: the Markdown, the recipes, the image, the examples. */
const DOCUMENTS = [
  ...MARKDOWN,
  ...filesUnder('deploy').filter((f) => !f.endsWith('.md')),
  'Dockerfile',
  'compose.yaml',
  ...filesUnder('rbac', ['.yaml']),
];

/** The code whose comments are read like documents: warden's source, the bench, the tests, CI. */
const CODE = [
  ...filesUnder('src', ['.ts', '.tsx']),
  ...filesUnder('bench', ['.ts']),
  ...filesUnder('test', ['.ts']),
  '.ci/run',
];

/** A comment line of a TypeScript file (`//`, `/*`, ` *`) or a shell script (`#`). */
const COMMENT = /^\s*(?:\/\/|\/\*|\*|#)/;

/** The lines of `file` that are read: every line of a document, the comment lines of code. */
function linesOf(file: string): string[] {
  const lines = read(file).split('\n');
  return CODE.includes(file) ? lines.map((l) => (COMMENT.test(l) ? l : '')) : lines;
}

/** `[text, file:line]` for every match of `re` (global) in `files`: the first group, where it is. */
function occurrences(files: string[], re: RegExp): [string, string][] {
  const out: [string, string][] = [];
  for (const file of files)
    linesOf(file).forEach((line, i) => {
      for (const m of line.matchAll(re)) out.push([m[1]!, `${file}:${i + 1}`]);
    });
  return out;
}

/** GitHub's anchor for a heading: lower-case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a Markdown file's headings (outside code blocks), repeats numbered as GitHub does. */
function anchors(file: string): string[] {
  const seen = new Map<string, number>();
  return [
    ...read(file)
      .replace(/```[\s\S]*?```/g, '')
      .matchAll(/^#{1,6} (.+)$/gm),
  ].map((m) => {
    const base = slug(m[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'));
    const n = seen.get(base);
    seen.set(base, (n ?? -1) + 1);
    return n === undefined ? base : `${base}-${n + 1}`;
  });
}

describe('docs/deploy.md', () => {
  it('lists its numbered sections, in order, each linked to its heading', () => {
    const text = read('docs/deploy.md');
    const sections = [...text.matchAll(/^## (\d+\. .+)$/gm)].map((m) => m[1]!);
    const listed = [...text.matchAll(/^(\d+)\. \[([^\]]+)\]\(#([^)]+)\)/gm)].map((m) => ({
      n: m[1],
      title: m[2],
      anchor: m[3],
    }));
    expect(sections.length).toBeGreaterThan(0);
    expect(listed).toEqual(
      sections.map((s) => ({ n: s.split('.')[0], title: s.replace(/^\d+\. /, ''), anchor: slug(s) })),
    );
  });
});

/** Names that look like repository paths and are not: kubectl's `deploy/<name>` resource names. */
const NOT_PATHS = new Set(['deploy/warden']);

/**
 * `WARDEN_*` names the documents mention that warden does not read, each with why; warden must warn
 * about each (so this list cannot hide a real variable).
 */
const NOT_VARIABLES: Record<string, string> = {
  WARDEN_TRUSTED_PROXY: "the README's example of a misspelt variable warden warns about",
  WARDEN_CI_CACHE: ".ci/run's cache folder for Node 24",
  WARDEN_SCREENSHOTS: 'the console browser test writing the images of docs/console/ (=docs)',
};

describe('the documents name what exists', () => {
  it('every src/, test/, deploy/, docs/, rbac/, bench/ and bin/ path, in documents and code comments', () => {
    const paths = occurrences(
      [...DOCUMENTS, ...CODE],
      /(?<![\w./$-])((?:src|test|deploy|docs|rbac|bench|bin)\/[\w./-]*?)\.?(?![\w./<*{-])/g,
    );
    expect(paths.length).toBeGreaterThan(50);
    const missing = paths.filter(([p]) => !NOT_PATHS.has(p) && !existsSync(join(ROOT, p)));
    expect(missing).toEqual([]);
  });

  it('every relative link, and the heading it points at', () => {
    const links = MARKDOWN.flatMap((file) =>
      occurrences([file], /\]\(([^)\s]+)\)/g)
        .filter(([href]) => !/^[a-z]+:/.test(href))
        .map(([href, where]) => ({ href, where, file })),
    );
    expect(links.length).toBeGreaterThan(50);
    const broken = links.flatMap(({ href, where, file }) => {
      const [path = '', anchor] = href.split('#');
      const target = path === '' ? file : normalize(join(dirname(file), path));
      if (!existsSync(join(ROOT, target))) return [`${where}: ${href} (no ${target})`];
      if (anchor === undefined || !target.endsWith('.md')) return [];
      return anchors(target).includes(anchor) ? [] : [`${where}: ${href} (no such heading)`];
    });
    expect(broken).toEqual([]);
  });

  it('every WARDEN_* variable is one warden reads, or one listed as not being one', () => {
    const named = occurrences(DOCUMENTS, /\b(WARDEN_[A-Z0-9_]*[A-Z0-9])\b/g);
    expect(named.length).toBeGreaterThan(50);
    const unknown = named.filter(([v]) => !(v in NOT_VARIABLES) && unknownVariables({ [v]: 'x' }).length > 0);
    expect(unknown).toEqual([]);
    expect(
      unknownVariables(Object.fromEntries(Object.keys(NOT_VARIABLES).map((v) => [v, 'x']))),
    ).toHaveLength(Object.keys(NOT_VARIABLES).length);
  });

  it('every variable warden reads is documented in the README or docs/', () => {
    const docs = MARKDOWN.filter((f) => f === 'README.md' || f.startsWith('docs/'))
      .map(read)
      .join('\n');
    expect(Object.keys(envSchema.shape).filter((v) => !docs.includes(v))).toEqual([]);
  });

  it('every `npm run` script', () => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: object }).scripts);
    const run = occurrences([...DOCUMENTS, '.ci/run'], /\bnpm run ([\w:-]+)/g);
    expect(run.length).toBeGreaterThan(5);
    expect(run.filter(([s]) => !scripts.includes(s))).toEqual([]);
  });

  it('every `warden` command, and the options of that command', () => {
    const commands = new Set([...USAGE.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!));
    const keys = new Set(/warden keys ([a-z|]+)/.exec(helpFor(['keys']))![1]!.split('|'));
    // Inline code that starts with the command, and lines of code blocks that do; in code, the
    // comments' inline code.
    const inComments = CODE.flatMap((file) =>
      linesOf(file).flatMap((line, i) =>
        [...line.matchAll(/`(?:npx )?warden ([a-z][a-z-]*)([^`]*)`/g)].map((m) => ({
          where: `${file}:${i + 1}`,
          command: m[1]!,
          rest: m[2]!,
        })),
      ),
    );
    const inDocuments = MARKDOWN.flatMap((file) => {
      let code = false;
      return read(file)
        .split('\n')
        .flatMap((line, i) => {
          if (line.startsWith('```')) code = !code;
          const found = code
            ? [...line.matchAll(/^\s*(?:\$ )?(?:npx )?warden ([a-z][a-z-]*)(.*)$/g)]
            : [...line.matchAll(/`(?:npx )?warden ([a-z][a-z-]*)([^`]*)`/g)];
          return found.map((m) => ({ where: `${file}:${i + 1}`, command: m[1]!, rest: m[2]! }));
        });
    });
    const uses = [...inDocuments, ...inComments];
    expect(inComments.length).toBeGreaterThan(10);
    expect(uses.length).toBeGreaterThan(10);
    const wrong = uses.flatMap(({ where, command, rest }) => {
      if (!commands.has(command)) return [`${where}: warden ${command}`];
      const sub = command === 'keys' ? /^ ([a-z]+)/.exec(rest)?.[1] : undefined;
      if (sub !== undefined && !keys.has(sub)) return [`${where}: warden keys ${sub}`];
      const help = helpFor(sub === undefined ? [command] : [command, sub]);
      const options = (rest.split('#')[0]!.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []).filter(
        (o) => o !== '--help' && !help.includes(o),
      );
      return options.map((o) => `${where}: warden ${command}${sub ? ` ${sub}` : ''} ${o}`);
    });
    expect(wrong).toEqual([]);
  });
});

const CURL = findBinary('curl');

describeNeeding(
  "README's rate-limit demo",
  CURL ? null : 'curl is not installed: the README rate-limit demo cannot run (apt-get install curl)',
  () => {
    it('shows 429s: its one curl goes over the example policy’s /health limit', async () => {
      const block = /```sh\n(curl [^`]*?\[1-60\][^`]*?)\n```/.exec(read('README.md'))?.[1];
      expect(block, 'the README has the demo').toBeDefined();
      const command = block!.replace(/\\\n\s*/g, '').split(' | ')[0]!;
      expect(block).toContain('| sort | uniq -c');
      const w = await startWarden({ policy: parse(read('rbac/policy.yaml')) });
      try {
        const args = [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)]
          .slice(1)
          .map((m) => (m[1] ?? m[2] ?? m[3])!.replace('http://127.0.0.1:8080', w.url));
        const { stdout } = await promisify(execFile)(CURL!, args, { timeout: 20_000 });
        const statuses = stdout.trim().split('\n');
        expect(statuses).toHaveLength(60);
        expect(new Set(statuses)).toEqual(new Set(['200', '429']));
        expect(statuses.filter((s) => s === '429').length).toBeGreaterThanOrEqual(10);
        expect(w.audit.filter((a) => a.path === '/health')).toHaveLength(60);
      } finally {
        await w.close();
      }
    });
  },
);
