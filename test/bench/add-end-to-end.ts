/**
 * `add --wait` end to end against the built embedded server (issue 11), the way an operator runs
 * it: the CLI process from its start until the package is Added, against `cp` + `sync` of the
 * same bundle on the same disk, interleaved (cp, add, cp, add), with the server's CPU time
 * (/proc) and peak RSS during each add; then sequential adds of 100 MB bundles, CLI start → Added,
 * p50 and p95. Part of `npm run bench`; alone with `npm run bench:add`.
 *
 * BENCH_ADD_SIZES (MiB, default 256,1024), BENCH_ADD_ROUNDS (default 2), BENCH_ADD_SEQUENTIAL
 * (default 20; 0 skips), BENCH_ADD_S3 (MiB of the self-hosted S3 cases, default 256; 0 skips).
 *
 * The self-hosted S3 case runs the embedded server on the local S3 server (s3rver behind the test
 * middleware) against `aws s3 cp` of the same bundle to the same server, interleaved. The ratio is
 * pessimistic for the registry: the middleware reads every GET body whole inside a per-key lock
 * (s3rver writes objects in place; S3 replaces them atomically), so each ranged read of a bundle
 * member is buffered before its first byte goes out, which `aws s3 cp` (writes only) never pays. Every add is of a bundle of its own (distinct bytes), so none finds its
 * content already stored. Not a test: numbers are reported, never asserted.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, residentMiB } from '../helpers/process-measures.ts';
import { startRegistryProcess } from '../helpers/registry-process.ts';
import { writeSingleImageBundle } from '../helpers/single-image-bundle.ts';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../helpers/local-aws/local-s3.ts';

const MiB = 1024 * 1024;
const cli = fileURLToPath(new URL('../../dist/cli/dcos-registry.mjs', import.meta.url));
const TOKEN = 'bench-add-token-0123456789';
const percentile = (values: readonly number[], p: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)]!;
const CLOCK_TICKS = 100;

async function distinctBundle(path: string, bytes: number, seed: number): Promise<void> {
  await writeSingleImageBundle({
    path, name: `bench-add-${seed}`, version: '1.0.0', repository: `bench/add${seed}`, tag: '1', description: 'benchmark',
    writeLayer: async (write) => {
      const block = Buffer.alloc(MiB);
      for (let written = 0; written < bytes; written += MiB) {
        block.fill((seed * 31 + written / MiB) & 0xff);
        block.writeUInt32LE(seed, 0);
        block.writeUInt32LE(written / MiB, 4);
        await write(block.subarray(0, Math.min(MiB, bytes - written)));
      }
      return bytes;
    },
  });
}

/** Seconds of CPU (user + system) the process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function copyAndSync(source: string, target: string): Promise<number> {
  spawnSync('sync');
  const started = performance.now();
  await copyFile(source, target);
  const handle = await open(target, 'r+');
  await handle.sync();
  await handle.close();
  const seconds = (performance.now() - started) / 1000;
  await rm(target);
  return seconds;
}

function runCli(args: string[]): Promise<{ code: number; seconds: number; stderr: string }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, DCOS_REGISTRY_TOKEN: TOKEN }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, seconds: (performance.now() - started) / 1000, stderr }));
  });
}

/** One `add --wait` of `bundle`: its wall time, and the server's CPU seconds and peak RSS (MiB) meanwhile. */
async function measuredAdd(pid: number, url: string, bundle: string): Promise<{ seconds: number; cpu: number; rss: number }> {
  const cpuBefore = cpuSeconds(pid);
  let peak = residentMiB(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, residentMiB(pid))), 50);
  const added = await runCli(['add', `--dcos-file=${bundle}`, '--wait', `--url=${url}`, '--json']);
  clearInterval(sampler);
  if (added.code !== 0) throw new Error(`add failed: ${added.stderr}`);
  return { seconds: added.seconds, cpu: cpuSeconds(pid) - cpuBefore, rss: peak };
}

export async function benchAddEndToEnd(): Promise<void> {
  const sizes = (process.env.BENCH_ADD_SIZES ?? '256,1024').split(',').map(Number);
  const rounds = Number(process.env.BENCH_ADD_ROUNDS ?? 2);
  const sequential = Number(process.env.BENCH_ADD_SEQUENTIAL ?? 20);
  const work = await mkdtemp(join(tmpdir(), 'dcos-registry-bench-add-'));
  const server = await startRegistryProcess({ REGISTRY_DATA_DIR: join(work, 'data'), REGISTRY_AUTH_TOKENS: TOKEN });
  const pid = server.child.pid!;
  let seed = 0;
  try {
    process.stderr.write(`\n== add --wait end to end (built server, Node ${process.version}) ==\n`);
    for (const size of sizes) {
      const copies: number[] = [];
      const adds: { seconds: number; cpu: number; rss: number }[] = [];
      for (let round = 0; round < rounds; round++) {
        const bundle = join(work, `add-${size}-${round}.dcos`);
        await distinctBundle(bundle, size * MiB, ++seed);
        // Read once, so both sides read the bundle from the page cache.
        await readFile(bundle).then(() => undefined, () => undefined);
        copies.push(await copyAndSync(bundle, join(work, 'copy.bin')));
        spawnSync('sync');
        adds.push(await measuredAdd(pid, server.url, bundle));
        await rm(bundle);
      }
      const copy = median(copies);
      const add = median(adds.map((run) => run.seconds));
      const cpuPerGiB = median(adds.map((run) => run.cpu)) / (size / 1024);
      process.stderr.write(
        `  ${String(size).padStart(5)} MiB: add --wait ${add.toFixed(2)} s, cp+sync ${copy.toFixed(2)} s: ${(copy / add).toFixed(3)}× of cp+sync; server CPU ${cpuPerGiB.toFixed(2)} s per GiB; server peak RSS ${Math.max(...adds.map((run) => run.rss)).toFixed(0)} MiB (medians of ${rounds})\n`,
      );
    }
    if (sequential > 0) {
      const times: number[] = [];
      for (let index = 0; index < sequential; index++) {
        const bundle = join(work, `seq-${index}.dcos`);
        await distinctBundle(bundle, 100 * 1000 * 1000, ++seed);
        const added = await runCli(['add', `--dcos-file=${bundle}`, '--wait', `--url=${server.url}`, '--json']);
        if (added.code !== 0) throw new Error(`add failed: ${added.stderr}`);
        times.push(added.seconds);
        await rm(bundle);
      }
      process.stderr.write(`  ${sequential} sequential 100 MB adds, CLI start → Added: p50 ${percentile(times, 50).toFixed(2)} s, p95 ${percentile(times, 95).toFixed(2)} s\n`);
    }
  } finally {
    await server.kill();
    await rm(work, { recursive: true, force: true });
  }
  for (const s3Size of (process.env.BENCH_ADD_S3 ?? '256').split(',').map(Number)) if (s3Size > 0) await benchSelfHostedS3(s3Size, rounds);
}

/** The embedded server on a local S3 server: `add --wait` against `aws s3 cp` to the same server. */
async function benchSelfHostedS3(size: number, rounds: number): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'dcos-registry-bench-add-s3-'));
  const s3 = await startLocalS3();
  const credentials = { AWS_ACCESS_KEY_ID: LOCAL_S3_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_S3_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1' };
  const server = await startRegistryProcess({
    REGISTRY_DATA_DIR: join(work, 'data'),
    REGISTRY_AUTH_TOKENS: TOKEN,
    REGISTRY_S3_BUCKET: s3.bucket,
    REGISTRY_S3_ENDPOINT: s3.endpoint,
    REGISTRY_S3_FORCE_PATH_STYLE: 'true',
    ...credentials,
  });
  try {
    const copies: number[] = [];
    const adds: { seconds: number; cpu: number; rss: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      const bundle = join(work, `s3-${round}.dcos`);
      await distinctBundle(bundle, size * MiB, 1000 + round);
      await readFile(bundle).then(() => undefined, () => undefined);
      const started = performance.now();
      const copied = spawnSync('aws', ['s3', 'cp', '--quiet', '--endpoint-url', s3.endpoint, bundle, `s3://${s3.bucket}/baseline/${round}.dcos`], {
        env: { ...process.env, ...credentials, AWS_CA_BUNDLE: '' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      if (copied.status !== 0) throw new Error(`aws s3 cp failed: ${copied.stderr?.toString()}`);
      copies.push((performance.now() - started) / 1000);
      adds.push(await measuredAdd(server.child.pid!, server.url, bundle));
      await rm(bundle);
    }
    const copy = median(copies);
    const add = median(adds.map((run) => run.seconds));
    process.stderr.write(
      `  self-hosted S3 (s3rver), ${size} MiB: add --wait ${add.toFixed(2)} s, aws s3 cp ${copy.toFixed(2)} s: ${(copy / add).toFixed(3)}× of aws s3 cp; server CPU ${median(adds.map((run) => run.cpu)).toFixed(2)} s, server peak RSS ${Math.max(...adds.map((run) => run.rss)).toFixed(0)} MiB (medians of ${rounds})\n`,
    );
  } finally {
    await server.kill();
    await s3.close();
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchAddEndToEnd();
