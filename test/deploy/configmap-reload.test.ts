// The policy ConfigMap and keys Secret of deploy/kubernetes, mounted the way the kubelet mounts them
// (its atomic writer: files are symlinks into ..data, which is swapped by rename), and changed the way
// `kubectl apply` changes them: warden picks up both without a restart.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { within } from '../helpers/redis.js';
import { verifyStatus } from '../helpers/replicas.js';
import { startWarden, testKey, type TestWarden } from '../helpers/warden.js';
import { find, renderRecipes } from './manifests.js';
import { ifStarted } from '../helpers/hooks.js';

/** A volume as the kubelet lays it out: <dir>/..<timestamp>/<file>, ..data → that, <file> → ..data/<file>. */
class KubeletVolume {
  private generation = 0;
  private current: string | null = null;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  /** Write a new version of every file and swap ..data to it in one rename, as the kubelet does. */
  update(files: Record<string, string>): void {
    const ts = `..2026_11_23_00_00_${String(++this.generation).padStart(2, '0')}.000000001`;
    mkdirSync(join(this.dir, ts));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, ts, name), text);
    symlinkSync(ts, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const name of Object.keys(files)) {
      try {
        symlinkSync(join('..data', name), join(this.dir, name));
      } catch {
        // the file's symlink exists from the first version
      }
    }
    if (this.current) rmSync(join(this.dir, this.current), { recursive: true });
    this.current = ts;
  }
}

const base = renderRecipes().base;
const policyText: string = find(base, 'ConfigMap', 'warden-policy').data['policy.yaml'];
const keysText: string = find(base, 'Secret', 'warden-keys').stringData['keys.yaml'];
const dev = testKey('agent-1', ['developer']);

describe('deploy/kubernetes: a changed ConfigMap or Secret reaches warden without a restart', () => {
  const root = mkdtempSync(join(tmpdir(), 'warden-kubelet-'));
  const policyVolume = new KubeletVolume(join(root, 'policy'));
  const keysVolume = new KubeletVolume(join(root, 'keys'));
  let w: TestWarden;

  beforeAll(async () => {
    policyVolume.update({ 'policy.yaml': policyText });
    keysVolume.update({ 'keys.yaml': keysText });
    // Where the Deployment mounts them: WARDEN_POLICY and WARDEN_API_KEYS point into the volumes.
    w = await startWarden({
      policy: {},
      env: {
        WARDEN_POLICY: join(policyVolume.dir, 'policy.yaml'),
        WARDEN_API_KEYS: join(keysVolume.dir, 'keys.yaml'),
      },
    });
  });
  afterAll(async () => {
    await ifStarted(w)?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('a key added to the Secret is accepted, then a rule changed in the ConfigMap applies', async () => {
    expect(await verifyStatus(w, '/api/nodes', dev.key)).toBe(401);
    keysVolume.update({ 'keys.yaml': stringify({ keys: [dev.entry] }) });
    await within(5000, async () => (await verifyStatus(w, '/api/nodes', dev.key)) === 200, 50);

    expect(await verifyStatus(w, '/internal/x', dev.key)).toBe(403);
    policyVolume.update({
      'policy.yaml': policyText.replace(
        /- match: \{ path: \/internal\/\*\* \}\n(\s+)deny: true/,
        '- match: { path: /internal/** }\n$1public: true',
      ),
    });
    await within(5000, async () => (await verifyStatus(w, '/internal/x')) === 200, 50);
    expect(w.ops.filter((l) => l.msg === 'policy and keys reloaded').length).toBeGreaterThanOrEqual(2);
  });

  it('a ConfigMap that does not validate is refused and the running policy stays', async () => {
    policyVolume.update({ 'policy.yaml': 'rules: [{ match: { path: 42 } }]\n' });
    await within(5000, () => w.audit.some((l) => l.event === 'config_rejected'), 50);
    expect(await verifyStatus(w, '/internal/x')).toBe(200);
  });
});
