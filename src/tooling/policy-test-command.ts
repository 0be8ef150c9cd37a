// `warden test [files…]`: run policy test cases through the same evaluation as `warden explain`, like a test runner.
import { readFile } from 'node:fs/promises';
import { parseYaml } from '../config/parse-yaml.js';
import { formatPath } from '../config/errors.js';
import { evaluate, type Evaluation, type SignInFacts } from './evaluate.js';
import { signInFacts } from './sign-in-facts.js';
import { describeEffect, describeMatch, describeOutcome } from './explain-format.js';
import { type Out } from './cli-io.js';
import { loadForTooling, type Loaded } from './explain-command.js';
import { caseBody, policyTestFile, type Expectation, type PolicyTestCase } from './policy-test-schema.js';
import type { Clock } from '../util/clock.js';

/** The test file used when none is named. */
export const DEFAULT_TEST_FILE = 'rbac/policy.test.yaml';

function got(e: Evaluation): Expectation {
  switch (e.outcome.decision) {
    case 'allow':
      return 'allow';
    case 'unauthenticated':
      return 'deny-401';
    case 'forbidden':
      return 'deny-403';
    case 'malformed':
      return e.outcome.reason as Expectation;
  }
}

/** Why a case failed, or null when it passed. */
function failure(c: PolicyTestCase, e: Evaluation): string | null {
  const problems: string[] = [];
  const actual = got(e);
  if (actual !== c.expect) problems.push(`expected ${c.expect}, got ${actual}`);
  if (c.reason !== undefined && c.reason !== e.outcome.reason)
    problems.push(`expected reason ${c.reason}, got ${e.outcome.reason}`);
  if (c.rule !== undefined && c.rule !== e.outcome.rule) {
    problems.push(
      `expected ${c.rule === null ? 'the policy default' : `rule [${c.rule}]`}, got ${e.outcome.rule === null ? 'the policy default' : `rule [${e.outcome.rule}]`}`,
    );
  }
  // A limit applies only to an allowed request; on a deny the decision mismatch says it all.
  if (c.rateLimit !== undefined && actual === 'allow') {
    const limit = e.outcome.rateLimit?.name ?? null;
    if (limit !== c.rateLimit)
      problems.push(`expected rate limit ${c.rateLimit ?? 'none'}, got ${limit ?? 'none'}`);
  }
  return problems.length === 0 ? null : problems.join('; ');
}

type Parsed = { file: string; cases: PolicyTestCase[] };

/** Read and validate every file; problems name the file, the case (index and name) and the field. */
async function readFiles(files: string[]): Promise<{ parsed: Parsed[]; problems: string[] }> {
  const parsed: Parsed[] = [];
  const problems: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      problems.push(
        `${file}: ${err.code === 'ENOENT' ? 'file not found' : `cannot read: ${err.code ?? err.message}`}`,
      );
      continue;
    }
    const read = parseYaml(text);
    if ('problem' in read) {
      const p = read.problem;
      problems.push(
        `${file}: not valid YAML: ${p.line === null ? '' : `line ${p.line}, column ${p.column ?? 1}: `}${p.message}`,
      );
      continue;
    }
    const data = read.value;
    const result = policyTestFile.safeParse(data);
    if (result.success) {
      parsed.push({ file, cases: result.data });
      continue;
    }
    for (const issue of result.error.issues) {
      const [index, ...rest] = issue.path;
      if (typeof index !== 'number') {
        problems.push(`${file}: ${issue.message}`);
        continue;
      }
      const raw = Array.isArray(data) ? (data[index] as { name?: unknown } | undefined) : undefined;
      const name = raw && typeof raw.name === 'string' ? ` "${raw.name}"` : '';
      const field = formatPath(rest);
      problems.push(`${file}: case [${index}]${name}: ${field === '' ? '' : field + ': '}${issue.message}`);
    }
  }
  return { parsed, problems };
}

function explainHint(c: PolicyTestCase): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const parts = ['warden explain', '--method', c.request.method, '--url', q(c.request.url)];
  if (c.request.ip) parts.push('--ip', c.request.ip);
  if (c.identity?.roles) parts.push('--roles', q(c.identity.roles.join(',')));
  if (c.identity?.acr !== undefined) parts.push('--acr', q(c.identity.acr));
  if (c.identity?.amr !== undefined) parts.push('--amr', q(c.identity.amr.join(',')));
  if (c.identity?.authTime !== undefined) parts.push('--auth-time', q(String(c.identity.authTime)));
  if (c.identity?.key) parts.push('--key', '<key>');
  if (c.identity?.token)
    parts.push(
      '--resource',
      q(c.identity.token.resource),
      '--scopes',
      q(c.identity.token.scopes.join(',') || "''"),
    );
  if (c.request.tool !== undefined) parts.push('--tool', q(c.request.tool));
  else if (c.request.body !== undefined) parts.push('--body', '<file with the body>');
  for (const [n, v] of Object.entries(c.request.headers ?? {})) parts.push('--header', q(`${n}: ${v}`));
  return parts.join(' ');
}

/** A case's sign-in (`acr`, `amr`, `authTime`): a signed-in person with its roles (none given: no roles). */
function signedIn(c: PolicyTestCase, now: number): { signIn?: SignInFacts; roles?: readonly string[] } {
  const facts = c.identity ? signInFacts(c.identity, now) : undefined;
  // The schema checked authTime's form, so a string (a message) cannot come back here.
  if (facts === undefined || typeof facts === 'string') return {};
  return { signIn: facts, roles: c.identity?.roles ?? [] };
}

function runCases(loaded: Loaded, p: Parsed, io: Out, now: number): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  io.out(`${p.file}\n`);
  for (const c of p.cases) {
    const body = caseBody(c.request);
    const e = evaluate(
      loaded.policy,
      loaded.keys,
      {
        method: c.request.method,
        url: c.request.url,
        ...(c.request.ip !== undefined ? { ip: c.request.ip } : {}),
        ...(c.request.headers
          ? {
              headers: Object.fromEntries(
                Object.entries(c.request.headers).map(([k, v]) => [k.toLowerCase(), v]),
              ),
            }
          : {}),
        ...(c.identity?.key !== undefined ? { key: c.identity.key } : {}),
        ...(c.identity?.roles !== undefined ? { roles: c.identity.roles } : {}),
        ...(c.identity?.token !== undefined ? { token: c.identity.token } : {}),
        ...signedIn(c, now),
        ...(body !== undefined ? { body } : {}),
      },
      now,
    );
    const why = failure(c, e);
    if (why === null) {
      passed++;
      io.out(`  ✓ ${c.name}\n`);
      continue;
    }
    failed++;
    io.out(`  ✗ ${c.name}\n      ${why}\n      decision: ${describeOutcome(e.outcome)}\n`);
    const rule = e.outcome.rule;
    if (rule !== null && e.outcome.decision !== 'malformed')
      io.out(
        `      rule [${rule}]: ${describeMatch(loaded.config.policy, rule)} → ${describeEffect(loaded.config.policy, rule)}\n`,
      );
    io.out(`      ${explainHint(c)}\n`);
  }
  return { passed, failed };
}

/**
 * Run `warden test` at `clock`'s time; 0 when every case passes, 1 on any failure, 2 for an invalid
 * test file or config.
 */
export async function policyTestCommand(args: string[], io: Out, clock: Clock): Promise<number> {
  const files = args.length > 0 ? args : [DEFAULT_TEST_FILE];
  const bad = args.find((a) => a.startsWith('-'));
  if (bad) {
    io.err(`warden test: unknown option ${bad}\n`);
    return 2;
  }
  const { parsed, problems } = await readFiles(files);
  if (problems.length > 0) {
    io.err(
      `warden test: invalid test file (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n`,
    );
    for (const p of problems) io.err(`  ${p}\n`);
    return 2;
  }
  const loaded = await loadForTooling(io);
  if (typeof loaded === 'number') return loaded;
  const now = clock.now();
  let passed = 0;
  let failed = 0;
  for (const p of parsed) {
    const r = runCases(loaded, p, io, now);
    passed += r.passed;
    failed += r.failed;
  }
  const files_ = `${parsed.length} file${parsed.length === 1 ? '' : 's'}`;
  io.out(
    failed === 0 ? `\n${passed} passed (${files_})\n` : `\n${failed} failed, ${passed} passed (${files_})\n`,
  );
  return failed === 0 ? 0 : 1;
}
