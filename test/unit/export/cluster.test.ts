// docs/cluster: the Slurm array script, run as Slurm would run its tasks (the SLURM_* variables
// set), exports and merges; the Kubernetes manifests are Indexed Jobs whose shard count is
// their completion count.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, removeCliBuild, root, testImage, WEIGHTS } from './harness';

const tmp = mkdtempSync(join(tmpdir(), 'attnscope-cluster-'));
let runner: string;
beforeAll(async () => {
  runner = await buildCli();
  mkdirSync(join(tmp, 'images'));
  for (let i = 0; i < 5; i++) writeFileSync(join(tmp, 'images', `p${i}.png`), await testImage(20 + i, 16, 'png'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  removeCliBuild();
});

describe('docs/cluster', () => {
  it('the Slurm array script exports each task\'s shard, and the merge job joins them', () => {
    const script = join(root, 'docs/cluster/slurm-export.sh');
    expect(spawnSync('bash', ['-n', script]).status).toBe(0);
    const out = join(tmp, 'out');
    // An array submitted as --array=1-3: three tasks, shard indices 0 to 2.
    for (const id of [1, 2, 3]) {
      const r = spawnSync('bash', [script, join(tmp, 'images'), out, '--weights', WEIGHTS, '--kinds', 'heatmap', '--modules', 'layer4.*'], {
        env: { ...process.env, SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3', SLURM_CPUS_PER_TASK: '1', ATTNSCOPE: `${process.execPath} ${runner}` },
        encoding: 'utf8',
      });
      expect(r.status, r.stderr + r.stdout).toBe(0);
      expect(r.stdout).toContain(`shard ${id - 1} of 3`);
    }
    const merge = spawnSync(process.execPath, [runner, 'export', '--merge', out, '--out', out], { encoding: 'utf8' });
    expect(merge.status, merge.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'export.json'), 'utf8'));
    expect(new Set(manifest.files.map((f: { source: string }) => f.source))).toEqual(new Set(['p0.png', 'p1.png', 'p2.png', 'p3.png', 'p4.png']));
    // Outside a job array the script says what it needs.
    const bare = spawnSync('bash', [script, join(tmp, 'images'), out], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' });
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toMatch(/run this as a Slurm job array/);
  });

  it('the Kubernetes export Job is Indexed, with as many completions as shards, and the merge Job merges /data/out', () => {
    type Job = { kind: string; spec: { completionMode?: string; completions?: number; template: { spec: { containers: Array<{ args?: string[]; command: string[] }> } } } };
    const job = yaml.load(readFileSync(join(root, 'docs/cluster/k8s-export-job.yaml'), 'utf8')) as Job;
    expect(job.kind).toBe('Job');
    expect(job.spec.completionMode).toBe('Indexed');
    const args = job.spec.template.spec.containers[0]!.args!.join(' ');
    const shard = /--shard "\$JOB_COMPLETION_INDEX\/(\d+)"/.exec(args);
    expect(Number(shard?.[1])).toBe(job.spec.completions);
    const merge = yaml.load(readFileSync(join(root, 'docs/cluster/k8s-merge-job.yaml'), 'utf8')) as Job;
    expect(merge.spec.template.spec.containers[0]!.command).toEqual(['node', 'bin/attnscope.mjs', 'export', '--merge', '/data/out', '--out', '/data/out']);
  });
});
