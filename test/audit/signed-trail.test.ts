// A real signed trail (checkpoints every 50 lines, rotated into many files, shutdown): verified, then tampered with.
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify as verifySig,
  type JsonWebKey,
} from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditVerify as verify,
  copyTrail,
  lineCount,
  lines,
  sendTrailRequest,
  startTrailWarden,
  trailFiles,
  writeLines,
} from '../helpers/audit-files.js';
import { makeDir, removeDir, testDir } from '../helpers/tmp.js';

type Rec = Record<string, unknown> & { seq: number; replica: string; hash: string };

/**
 * The chain rule of docs/audit.md re-implemented from the text, with node:crypto only (not warden's
 * code): each line's seq and hash after its replica's previous one, each checkpoint's seals and
 * Ed25519 signature over {replica, seq, hash, time} of the line it seals. Returns the bad file:lines.
 */
function independentCheck(files: string[], jwks: JsonWebKey[]): string[] {
  const bad: string[] = [];
  const heads = new Map<string, { seq: number; hash: string; time: unknown }>();
  for (const f of files)
    readFileSync(f, 'utf8')
      .split('\n')
      .slice(0, -1)
      .forEach((line, i) => {
        const rec = JSON.parse(line) as Rec;
        const [body, h] = [`${line.slice(0, -54)}}`, line.slice(-45, -2)];
        const prev = heads.get(rec.replica) ?? { seq: 0, hash: '', time: null };
        const want = createHash('sha256').update(`${prev.hash}\n${body}`).digest('base64url');
        let ok = rec.seq === prev.seq + 1 && h === want && rec.hash === h;
        if (rec.type === 'checkpoint') {
          const [head, payload, sig] = String(rec.sig).split('.') as [string, string, string];
          const jwk = jwks.find((k) => k.kid === rec.kid);
          const p = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
          const seals = rec.seals as { seq: number; hash: string };
          ok &&=
            jwk !== undefined &&
            verifySig(
              null,
              Buffer.from(`${head}.${payload}`),
              createPublicKey({ key: jwk, format: 'jwk' }),
              Buffer.from(sig, 'base64url'),
            ) &&
            seals.seq === prev.seq &&
            seals.hash === prev.hash &&
            p.seq === prev.seq &&
            p.hash === prev.hash &&
            p.replica === rec.replica &&
            p.time === prev.time;
        }
        if (!ok) bad.push(`${f}:${i + 1}`);
        heads.set(rec.replica, { seq: rec.seq, hash: h, time: rec.time });
      });
  return bad;
}

let trail = '';
let files: string[] = [];
let jwksFile = '';
let jwks: JsonWebKey[] = [];
let live: Awaited<ReturnType<typeof verify>>;
let total = 0;

beforeAll(async () => {
  trail = makeDir('warden-signed-trail-');
  const audit = join(trail, 'audit');
  mkdirSync(audit);
  const w = await startTrailWarden(join(audit, 'audit.jsonl'), {
    dir: trail,
    env: { WARDEN_AUDIT_SIGNING_KEY: 'generate', WARDEN_AUDIT_CHECKPOINT: '50' },
  });
  for (let i = 0; i < 420; i++) await sendTrailRequest(w, i);
  const keys = await fetch(`${w.url}/.well-known/jwks.json`).then((r) => r.text());
  jwksFile = join(trail, 'jwks.json');
  writeFileSync(jwksFile, keys);
  jwks = (JSON.parse(keys) as { keys: JsonWebKey[] }).keys;
  const running = readdirSync(audit).map((f) => join(audit, f));
  // While warden runs, its live file ends in lines no checkpoint signs yet: verify says so, and passes.
  live = await verify(['--jwks', `${w.url}/.well-known/jwks.json`, ...running]);
  await w.close();
  files = trailFiles(audit);
  total = lineCount(files);
}, 90_000);
afterAll(() => removeDir(trail));

/** A copy of the trail to tamper with, files in the same order. */
const copy = () => copyTrail(join(trail, 'audit'), files);
const write = writeLines;
const recs = (f: string) => lines(f).map((l) => JSON.parse(l) as Rec);

describe('a signed trail written by warden', () => {
  it('has a checkpoint every 50 lines and one after the last line at shutdown; verify passes with the published keys', async () => {
    expect(files.length).toBeGreaterThan(4);
    const all = files.flatMap(recs);
    const checkpoints = all.filter((r) => r.type === 'checkpoint');
    expect(all.filter((r) => r.event === 'decision')).toHaveLength(420);
    expect(checkpoints.length).toBe(Math.ceil((all.length - checkpoints.length) / 50));
    expect(all.at(-1)).toMatchObject({ type: 'checkpoint', seals: { seq: all.length - 1 } });
    expect(Object.keys(checkpoints[0]!)).toEqual(['type', 'seals', 'sig', 'kid', 'seq', 'replica', 'hash']);
    const r = await verify(['--jwks', jwksFile, ...[...files].reverse()]);
    expect(r).toEqual({
      code: 0,
      stdout: `${total} lines, ${checkpoints.length} checkpoints, 1 replica: intact\n`,
      stderr: '',
    });
    const json = JSON.parse((await verify(['--json', '--jwks', jwksFile, ...files])).stdout) as unknown;
    expect(json).toMatchObject({
      intact: true,
      lines: total,
      checkpoints: checkpoints.length,
      replicas: [{ replica: 'edge-1', firstSeq: 1, lastSeq: total, signedThrough: total }],
      breaks: [],
      notes: [],
    });
  });

  it('verifies while warden runs (--jwks URL), naming the unsigned tail of the live file', () => {
    expect(live.code).toBe(0);
    expect(live.stdout).toMatch(
      /^note: edge-1: seq \d+–\d+ \(\d+ lines\) come after the last checkpoint: unsigned$/m,
    );
    expect(live.stdout).toMatch(/: intact\n$/);
  });

  it('passes an independent implementation of the documented rule (node:crypto, not warden’s code)', () => {
    expect(independentCheck(files, jwks)).toEqual([]);
    const f = copy();
    const ls = lines(f[1]!);
    ls[3] = ls[3]!.replace('"status":', '"status":1');
    write(f[1]!, ls);
    expect(independentCheck(f, jwks)[0]).toBe(`${f[1]}:4`);
  });

  it('reads standard input (no file, or -) and gzip; takes the key as a PEM', async () => {
    const text = files.map((f) => readFileSync(f, 'utf8')).join('');
    const r = await verify(['--jwks', jwksFile], Readable.from([Buffer.from(text)]));
    expect(r.stdout).toMatch(new RegExp(`^${total} lines, \\d+ checkpoints, 1 replica: intact\\n$`));
    const pem = join(trail, 'state', 'audit-signing-key.pem');
    const byPem = await verify(['--key', pem, '-'], Readable.from([text]));
    expect(byPem).toMatchObject({ code: 0, stderr: '' });
    const dir = testDir('warden-signed-gz-');
    const gz = files.map((f, i) => {
      const to = join(dir, `${i}.jsonl.gz`);
      writeFileSync(to, gzipSync(readFileSync(f)));
      return to;
    });
    expect((await verify(['--key', pem, ...gz])).stdout).toBe(r.stdout);
  });
});

describe('tampering with the signed trail', () => {
  const run = (f: string[]) => verify(['--jwks', jwksFile, ...f]);

  it('an edited field, a deleted line, swapped lines, a duplicated line: each at its file:line', async () => {
    let f = copy();
    let ls = lines(f[2]!);
    ls[6] = ls[6]!.replace('"durationMs":', '"durationMs":9');
    write(f[2]!, ls);
    expect((await run(f)).stdout).toMatch(new RegExp(`^${f[2]}:7: edited: replica edge-1, seq \\d+`));

    f = copy();
    ls = lines(f[2]!);
    write(f[2]!, [...ls.slice(0, 9), ...ls.slice(10)]);
    expect((await run(f)).stdout).toContain(`${f[2]}:10: missing: replica edge-1`);

    f = copy();
    ls = lines(f[3]!);
    write(f[3]!, [...ls.slice(0, 4), ls[5]!, ls[4]!, ...ls.slice(6)]);
    const swapped = await run(f);
    expect(swapped.stdout).toContain(`${f[3]}:5: reordered: replica edge-1`);

    f = copy();
    ls = lines(f[3]!);
    write(f[3]!, [...ls.slice(0, 8), ls[7]!, ...ls.slice(8)]);
    const dup = await run(f);
    expect(dup.code).toBe(1);
    expect(dup.stdout).toContain(`${f[3]}:9: duplicate: replica edge-1`);
    expect(dup.stdout).toMatch(/: broken\n$/);
  });

  /**
   * An attacker who edits a line and re-computes every hash after it: the chain holds, so only the
   * checkpoints can tell. `kid` is the key id written in the forged checkpoints.
   */
  function rechained(kid: 'warden' | 'own'): { files: string[]; edited: string; firstCheckpoint: string } {
    const f = copy();
    const attacker = generateKeyPairSync('ed25519');
    const ownJwk = attacker.publicKey.export({ format: 'jwk' });
    const ownKid = createHash('sha256')
      .update(JSON.stringify({ crv: ownJwk.crv, kty: ownJwk.kty, x: ownJwk.x }))
      .digest('base64url');
    const useKid = kid === 'own' ? ownKid : String(jwks[0]!.kid);
    let prev = '';
    let prevRec: Rec | null = null;
    let editing = false;
    let edited = '';
    let firstCheckpoint = '';
    for (const [k, file] of f.entries()) {
      const out = lines(file).map((line, i) => {
        let rec = JSON.parse(line) as Rec;
        let open = line.slice(0, -54);
        if (!editing && k === 2 && i >= 5 && rec.event === 'decision') {
          editing = true;
          edited = `${file}:${i + 1}`;
          open = open.replace('"clientIp":"203.0.113.5"', '"clientIp":"198.51.100.9"');
        } else if (editing && rec.type === 'checkpoint') {
          const payload = Buffer.from(
            JSON.stringify({ replica: 'edge-1', seq: prevRec!.seq, hash: prev, time: prevRec!.time }),
          ).toString('base64url');
          const head = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: useKid })).toString('base64url');
          const sig = sign(null, Buffer.from(`${head}.${payload}`), attacker.privateKey).toString(
            'base64url',
          );
          open = `{"type":"checkpoint","seals":{"seq":${prevRec!.seq},"hash":"${prev}"},"sig":"${head}.${payload}.${sig}","kid":${JSON.stringify(useKid)},"seq":${rec.seq},"replica":"edge-1"`;
          firstCheckpoint ||= `${file}:${i + 1}`;
        }
        const h = editing ? createHash('sha256').update(`${prev}\n${open}}`).digest('base64url') : rec.hash;
        rec = { ...rec, hash: h };
        prev = h;
        prevRec = rec;
        return `${open},"hash":"${h}"}`;
      });
      write(file, out);
    }
    return { files: f, edited, firstCheckpoint };
  }

  it('a forged checkpoint (re-chained after an edit, signed under warden’s kid): bad signature at the checkpoint', async () => {
    const { files: f, edited, firstCheckpoint } = rechained('warden');
    // The chain alone holds: without keys, the edit goes unseen, which is why checkpoints are signed.
    expect((await verify(f)).code).toBe(0);
    const r = await run(f);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${firstCheckpoint}: bad signature: replica edge-1`);
    expect(edited).not.toBe(firstCheckpoint);
    expect(independentCheck(f, jwks)).toContain(firstCheckpoint);
  });

  it('a checkpoint signed by a key not among those given: unknown key', async () => {
    const { files: f, firstCheckpoint } = rechained('own');
    const r = await run(f);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${firstCheckpoint}: unknown key: replica edge-1, signed by kid`);
  });

  it('a truncated file, a file removed from the middle, a line that is not JSON, a 100 MB line: named, never intact', async () => {
    let f = copy();
    const last = f.at(-1)!;
    writeFileSync(last, readFileSync(last, 'utf8').slice(0, -30));
    let r = await run(f);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${last}:${lines(last).length + 1}: malformed: not JSON`);

    // Cut at a line boundary, the shutdown checkpoint goes with the lines: the tail is reported unsigned.
    f = copy();
    write(f.at(-1)!, lines(f.at(-1)!).slice(0, -3));
    r = await run(f);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /note: edge-1: seq \d+–\d+ \(\d+ lines\) come after the last checkpoint: unsigned/,
    );

    f = copy();
    rmSync(f[2]!);
    r = await run(f.filter((_, i) => i !== 2));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${f[3]}:1: missing: replica edge-1`);

    f = copy();
    const ls = lines(f[1]!);
    write(f[1]!, [...ls.slice(0, 2), '{"type":"checkpoint", oops', ...ls.slice(2)]);
    r = await run(f);
    expect(r.stdout).toContain(`${f[1]}:3: malformed: not JSON`);
    expect(r.stdout).not.toContain('intact');

    // 100 MB in one line on standard input, streamed: reported at its line, not held in memory.
    const mb = Buffer.alloc(1024 * 1024, 'x');
    const huge = Readable.from(
      (function* () {
        yield Buffer.from(readFileSync(files[0]!, 'utf8').split('\n').slice(0, 3).join('\n') + '\n');
        for (let i = 0; i < 100; i++) yield mb;
        yield Buffer.from('\n');
      })(),
    );
    r = await verify(['--jwks', jwksFile, '-'], huge);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('-:4: malformed: longer than 16 MiB');
  });

  it('exits 2 for keys that cannot be used, and for stdin mixed with files', async () => {
    expect(await verify(['--jwks', '/nonexistent/jwks.json', files[0]!])).toMatchObject({
      code: 2,
      stderr: 'warden: audit verify: /nonexistent/jwks.json: cannot read: ENOENT\n',
    });
    const dir = testDir('warden-bad-key-');
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    expect((await verify(['--key', rsa, files[0]!])).stderr).toContain(
      `${rsa}: not a usable PEM key: unsupported key type rsa`,
    );
    expect((await verify(['-', files[0]!])).code).toBe(2);
  });
});
