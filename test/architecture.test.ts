// Rules about src/ as a whole: no import cycle (type-only imports count too); who may read the system clock.
import { readdirSync, readFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

/** Every module of src/, by its path relative to src/ (`auth/chain.ts`), with its text. */
const modules = new Map(
  readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') || f.endsWith('.tsx'))
    .map((f) => f.split('\\').join('/'))
    .sort()
    .map((f) => [f, readFileSync(resolve(SRC, f), 'utf8')]),
);

/** The modules of src/ one module imports or re-exports (`import type` and `import()` included). */
function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts'))
    .map((target) => (modules.has(target) ? target : target + 'x'))
    .filter((target) => modules.has(target));
}

/** One path (`a.ts → b.ts → a.ts`) through each import cycle: Tarjan's strongly connected components. */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const edges = (v: string): readonly string[] => graph.get(v) ?? [];
  const seen = new Map<string, { index: number; low: number }>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const connect = (v: string): { index: number; low: number } => {
    const me = { index: seen.size, low: seen.size };
    seen.set(v, me);
    stack.push(v);
    for (const w of edges(v)) {
      const other = seen.get(w);
      if (other === undefined) me.low = Math.min(me.low, connect(w).low);
      else if (stack.includes(w)) me.low = Math.min(me.low, other.index);
    }
    if (me.low !== me.index) return me;
    const members = new Set(stack.splice(stack.lastIndexOf(v)));
    if (members.size === 1 && !edges(v).includes(v)) return me;
    // Walk inside the component from v until a module repeats: that walk is one cycle.
    const path: string[] = [];
    let at: string | undefined = v;
    while (at !== undefined && !path.includes(at)) {
      path.push(at);
      at = edges(at).find((w) => members.has(w));
    }
    if (at !== undefined) cycles.push([...path.slice(path.indexOf(at)), at].join(' → '));
    return me;
  };
  for (const v of graph.keys()) if (!seen.has(v)) connect(v);
  return cycles;
}

describe('src/ imports', () => {
  it('form no cycle', () => {
    const graph = new Map([...modules].map(([file, text]) => [file, importsOf(file, text)]));
    expect(importCycles(graph)).toEqual([]);
  });

  it('the cycle finder finds cycles (self-check)', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts', 'd.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', []],
      ['e.ts', ['e.ts']],
    ]);
    expect(importCycles(g)).toEqual(['a.ts → b.ts → c.ts → a.ts', 'e.ts → e.ts']);
  });
});

/** The one module that reads the system clock; every other takes its time from an injected Clock. */
const CLOCK = 'util/clock.ts';

describe('the system clock', () => {
  it('is read only where allowed', () => {
    const readers = [...modules].filter(([, text]) => /\bDate\.now\b/.test(text)).map(([file]) => file);
    expect(readers).toEqual([CLOCK]);
  });
});

/**
 * What each folder of src/ may import besides itself (CONTRIBUTING.md, "Layout of src/"): a folder
 * or one top-level module. The top-level modules (main, cli, app, runtime…) wire everything and may
 * import anything.
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  util: [],
  store: ['util'],
  request: ['util'],
  mcp: [],
  config: ['util', 'request', 'policy', 'auth', 'mcp'],
  session: ['util', 'auth', 'store'],
  auth: ['util', 'config', 'request', 'session', 'store', 'policy'],
  policy: ['util', 'config', 'request', 'auth', 'mcp'],
  limits: ['util', 'config', 'request', 'auth', 'policy', 'store'],
  audit: ['util', 'config', 'request', 'policy'],
  identity: ['util', 'auth'],
  http: [
    'util',
    'config',
    'request',
    'auth',
    'policy',
    'limits',
    'audit',
    'identity',
    'runtime.ts',
    'metrics.ts',
  ],
  oauth2: [
    'util',
    'config',
    'request',
    'auth',
    'session',
    'store',
    'limits',
    'policy',
    'audit',
    'runtime.ts',
    'services.ts',
  ],
  console: ['util', 'config', 'auth', 'session', 'policy', 'audit', 'http', 'runtime.ts', 'services.ts'],
  tooling: [
    'util',
    'config',
    'request',
    'auth',
    'policy',
    'store',
    'identity',
    'http',
    'audit',
    'services.ts',
  ],
};

/** The folder of a module (`auth/chain.ts` → `auth`), or the module itself at the top level. */
const layerOf = (file: string): string => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file);

describe('src/ folders', () => {
  it('import only what CONTRIBUTING.md says they may', () => {
    const wrong: string[] = [];
    for (const [file, text] of modules) {
      const from = layerOf(file);
      const allowed = MAY_IMPORT[from];
      if (allowed === undefined) continue;
      for (const target of importsOf(file, text)) {
        const to = layerOf(target);
        if (to !== from && !allowed.includes(to)) wrong.push(`${file} → ${target}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('have the rules CONTRIBUTING.md lists for them', () => {
    const contributing = readFileSync(resolve(SRC, '../CONTRIBUTING.md'), 'utf8');
    const listed: Record<string, string[]> = {};
    for (const [, folder, text] of contributing.matchAll(/^\*\*`([a-z0-9]+)\/`\*\*([\s\S]*?)(?=\n\n)/gm)) {
      const imports = text!.slice(text!.lastIndexOf('Imports'));
      listed[folder!] = [...imports.matchAll(/`([a-z0-9]+\/|[a-z-]+\.ts)`/g)]
        .map((m) => m[1]!.replace(/\/$/, ''))
        .filter((name) => !name.endsWith('.ts') || modules.has(name))
        .sort();
    }
    const rules = Object.fromEntries(Object.entries(MAY_IMPORT).map(([k, v]) => [k, [...v].sort()]));
    expect(listed).toEqual(rules);
  });

  it('every folder has a rule', () => {
    const folders = new Set([...modules.keys()].filter((f) => f.includes('/')).map(layerOf));
    expect([...folders].filter((f) => !(f in MAY_IMPORT))).toEqual([]);
  });
});
