/**
 * `npm run bench:index`: the index at Universe scale and beyond. For each size (BENCH_INDEX_SIZES,
 * default 1201,10000) it seeds a data directory with that many versions made from the real
 * corpus entries (versions varied, entry sizes kept), builds the index with the registry's own
 * reindex (reported apart: it runs while the seeding's writes are still going to disk), then
 * measures, interleaved, three rounds of: a publish in a fresh process, a publish in a process
 * warmed by four publishes, a full reindex; each in a process of its own, bundled as deployed
 * (wall, CPU, peak RSS, longest event-loop block). Then it serves the directory with the
 * built registry server and the same stored bytes with nginx, and loads both with wrk, interleaved
 * (registry, nginx, registry, nginx), with Cosmos's headers: v5 with `dcos/2.0.0` and v4 with
 * `dcos/1.13.0`, at 1 and 32 connections.
 *
 * Not a test: numbers are reported, never asserted. It installs nothing: without nginx or wrk it
 * says so and measures the rest.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { FsObjectStore } from '../../../lib/adapters/object-store/fs-object-store.ts';
import { writeJson } from '../../../lib/registry/json-objects.ts';
import { fragmentKey, PACKAGE_CATALOG_KEY, packageRecordKey } from '../../../lib/registry/layout.ts';
import { catalogRowsOf } from '../../../lib/registry/catalog/package-catalog.ts';
import type { IndexFragment } from '../../../lib/registry/index-document.ts';
import type { PackageRecord } from '../../../lib/registry/records.ts';
import { schemaErrors } from '../../../lib/universe/schema-registry.ts';
import { encodeCoordinate } from '../../../lib/universe/coordinate.ts';
import type { PackageMetadata } from '../../../lib/universe/package-model.ts';
import { corpusRevisions, corpusSkipReason } from '../../helpers/corpus.ts';

const SIZES = (process.env.BENCH_INDEX_SIZES ?? '1201,10000').split(',').map(Number);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 5);
const PUBLIC_URL = 'http://registry.bench:8080';
const child = fileURLToPath(new URL('./index-child.ts', import.meta.url));
const server = fileURLToPath(new URL('../../../dist/server/registry.mjs', import.meta.url));
const V5 = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v5';
const V4 = 'application/vnd.dcos.universe.repo+json;charset=utf-8;version=v4';
const COSMOS_ACCEPT = (versions: string[]) => versions.map((v) => `application/vnd.dcos.universe.repo+json;charset=utf-8;version=${v}`).join(',');

interface Measured {
  wallMs: number;
  cpuMs: number;
  userMs: number;
  systemMs: number;
  maxRssMiB: number;
  maxEventLoopBlockMs: number;
  /** Bytes written to files (Linux), in MiB. */
  writtenMiB?: number;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** A corpus revision as the metadata a bundle of it carries (package.json plus its files). */
function metadataOf(directory: string): PackageMetadata {
  const read = (file: string): unknown => (existsSync(join(directory, file)) ? JSON.parse(readFileSync(join(directory, file), 'utf8')) : undefined);
  const metadata = { ...(read('package.json') as object) } as Record<string, unknown>;
  const config = read('config.json');
  const resource = read('resource.json');
  const command = read('command.json');
  if (config !== undefined) metadata.config = config;
  if (resource !== undefined) metadata.resource = resource;
  if (command !== undefined) metadata.command = command;
  if (existsSync(join(directory, 'marathon.json.mustache'))) {
    metadata.marathon = { v2AppMustacheTemplate: readFileSync(join(directory, 'marathon.json.mustache')).toString('base64') };
  }
  return metadata as unknown as PackageMetadata;
}

function loadCorpus(): PackageMetadata[] {
  const valid: PackageMetadata[] = [];
  let refused = 0;
  for (const revision of corpusRevisions()) {
    const metadata = metadataOf(revision.directory);
    if (schemaErrors('v5-repo', { packages: [{ ...metadata, releaseVersion: 1 }] }).length > 0) refused++;
    else valid.push(metadata);
  }
  const bytes = valid.map((metadata) => JSON.stringify(metadata).length);
  process.stderr.write(`corpus: ${valid.length} revisions as entries (${refused} not valid v5 repository entries as read, left out); entry size mean ${(bytes.reduce((a, b) => a + b, 0) / bytes.length / 1024).toFixed(1)} KiB, median ${(median(bytes) / 1024).toFixed(1)} KiB\n`);
  return valid;
}

/** The n-th synthetic version: corpus entry n mod size, its version made unique. */
function versionOf(corpus: readonly PackageMetadata[], n: number): PackageMetadata {
  const base = corpus[n % corpus.length]!;
  const round = Math.floor(n / corpus.length);
  return { ...base, version: round === 0 ? base.version : `${base.version}-r${round}` };
}

async function seed(objects: string, corpus: readonly PackageMetadata[], size: number): Promise<void> {
  const store = new FsObjectStore(objects);
  const now = new Date().toISOString();
  const records: PackageRecord[] = [];
  for (let start = 0; start < size; start += 64) {
    await Promise.all(
      Array.from({ length: Math.min(64, size - start) }, async (_, offset) => {
        const n = start + offset;
        const metadata = versionOf(corpus, n);
        const coordinate = encodeCoordinate(metadata);
        const contentDigest = createHash('sha256').update(`${coordinate}/${n}`).digest('hex');
        const fragment: IndexFragment = { name: metadata.name, version: metadata.version, releaseVersion: n + 1, contentDigest, metadata, resources: [], images: [] };
        const record: PackageRecord = { name: metadata.name, version: metadata.version, packagingVersion: metadata.packagingVersion, status: 'Added', releaseVersion: n + 1, contentDigest, uploadId: 'bench', resources: [], imageBlobs: [], images: [], addedAt: now, updatedAt: now, error: null };
        await writeJson(store, fragmentKey(coordinate, contentDigest), fragment);
        await writeJson(store, packageRecordKey(coordinate), record);
        records.push(record);
      }),
    );
  }
  // The package catalog as the notes of those records leave it (a publish then writes one row).
  await writeJson(store, PACKAGE_CATALOG_KEY, { formatVersion: 1, packages: catalogRowsOf(records) });
}

/**
 * The child bundled as the server and the Lambdas are (one ES module, esbuild): what is measured
 * is the code as deployed, not tsx compiling it on the fly (which alone holds ~30 MiB more).
 */
let bundledChild: string | undefined;
async function childEntry(): Promise<string> {
  if (bundledChild) return bundledChild;
  const { build } = await import('esbuild');
  const outfile = join(await mkdtemp(join(tmpdir(), 'dcos-registry-bench-child-')), 'index-child.mjs');
  await build({
    entryPoints: [child],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return (bundledChild = outfile);
}

async function runChild(args: string[]): Promise<Measured> {
  const entry = await childEntry();
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, ['--expose-gc', entry, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    process_.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    process_.on('close', (code) => {
      const report = /@@bench (.*)/.exec(stderr);
      if (code !== 0 || !report) reject(new Error(`index child ${args.join(' ')} failed (${code}):\n${stderr}`));
      else resolve(JSON.parse(report[1]!) as Measured);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitFor(url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never answered`);
}

interface Load {
  requestsPerSecond: number;
  p99Ms: number;
}

function wrk(url: string, connections: number, headers: Record<string, string>): Load {
  const args = ['-t', String(Math.min(connections, 2)), '-c', String(connections), '-d', `${LOAD_SECONDS}s`, '--latency'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  const result = spawnSync('wrk', [...args, url], { encoding: 'utf8' });
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(result.stdout);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(result.stdout);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(result.stdout);
  if (!rate || !p99) throw new Error(`wrk said:\n${result.stdout}\n${result.stderr}`);
  if (errors) throw new Error(`wrk got ${errors[1]} error responses from ${url}`);
  const unit = { us: 0.001, ms: 1, s: 1000 }[p99[2] as 'us' | 'ms' | 's'];
  return { requestsPerSecond: Number(rate[1]), p99Ms: Number(p99[1]) * unit };
}

/** CPU time of a process so far (Linux /proc), in ms. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Waits until the process uses under 5% of a core over a second (at most two minutes). */
async function untilIdle(pid: number): Promise<{ ms: number; cpuMs: number }> {
  const started = Date.now();
  const cpuAtStart = cpuMsOf(pid);
  let previous = cpuAtStart;
  while (Date.now() - started < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = cpuMsOf(pid);
    if (now - previous < 50) return { ms: Date.now() - started - 1000, cpuMs: now - cpuAtStart };
    previous = now;
  }
  return { ms: Date.now() - started, cpuMs: cpuMsOf(pid) - cpuAtStart };
}

const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;

async function fetchBytes(url: string, headers: Record<string, string>): Promise<{ body: Buffer; headers: Headers }> {
  // Raw bytes as sent (gzip), not decoded: what nginx will serve.
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    request(url, { headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ body: Buffer.concat(chunks), headers: new Headers(response.headers as Record<string, string>) }));
      response.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

async function serveAndLoad(directory: string, work: string): Promise<void> {
  if (!has('wrk')) {
    process.stderr.write('  serving: wrk is not installed (Debian: apt-get install wrk); /repo load not measured\n');
    return;
  }
  const port = await freePort();
  const registry: ChildProcess = spawn(process.execPath, [server], {
    env: { ...process.env, REGISTRY_DATA_DIR: directory, PORT: String(port), REGISTRY_PUBLIC_URL: PUBLIC_URL, LOG_LEVEL: 'error' },
    stdio: 'ignore',
  });
  try {
    await waitFor(`http://127.0.0.1:${port}/health`);
    // Its start-up reconciliation reads every record (seconds at ten thousand): measure the
    // serving of a settled server, and say how long settling took.
    const settled = await untilIdle(registry.pid!);
    process.stderr.write(`  server settled ${(settled.ms / 1000).toFixed(1)} s after /health answered (start-up reconciliation: ${(settled.cpuMs / 1000).toFixed(1)} s of CPU)\n`);
    const variants = [
      { label: 'v5 dcos/2.0.0', headers: { Accept: COSMOS_ACCEPT(['v5', 'v4', 'v3']), 'Accept-Encoding': 'gzip', 'User-Agent': 'cosmos/0.6.3 dcos/2.0.0' }, media: V5 },
      { label: 'v4 dcos/1.13.0', headers: { Accept: COSMOS_ACCEPT(['v4', 'v3']), 'Accept-Encoding': 'gzip', 'User-Agent': 'cosmos/0.6.0 dcos/1.13.0' }, media: V4 },
    ];
    const files: string[] = [];
    for (const [index, variant] of variants.entries()) {
      const { body, headers } = await fetchBytes(`http://127.0.0.1:${port}/repo`, variant.headers);
      const entries = (JSON.parse(gunzipSync(body).toString('utf8')) as { packages: unknown[] }).packages.length;
      process.stderr.write(`  ${variant.label}: ${entries} entries, ${(body.length / 1024 / 1024).toFixed(2)} MiB gzip (etag ${headers.get('etag')})\n`);
      const file = join(work, `variant-${index}.json.gz`);
      writeFileSync(file, body);
      files.push(file);
    }
    let nginx: ChildProcess | undefined;
    let nginxPort = 0;
    if (has('nginx')) {
      nginxPort = await freePort();
      const locations = variants.map((variant, index) => `location = /repo-${index} { default_type "${variant.media}"; add_header Content-Encoding gzip; add_header Cache-Control no-cache; alias ${files[index]}; }`).join('\n');
      const config = join(work, 'nginx.conf');
      writeFileSync(
        config,
        `worker_processes 1; daemon off; pid ${join(work, 'nginx.pid')}; error_log ${join(work, 'nginx-error.log')};\nevents { worker_connections 1024; }\nhttp { access_log off; client_body_temp_path ${work}; proxy_temp_path ${work}; fastcgi_temp_path ${work}; uwsgi_temp_path ${work}; scgi_temp_path ${work}; server { listen 127.0.0.1:${nginxPort}; ${locations} } }\n`,
      );
      nginx = spawn('nginx', ['-c', config, '-p', work], { stdio: 'ignore' });
      await waitFor(`http://127.0.0.1:${nginxPort}/repo-0`);
    } else {
      process.stderr.write('  serving: nginx is not installed (Debian: apt-get install nginx-light); no baseline\n');
    }
    try {
      for (const [index, variant] of variants.entries()) {
        for (const connections of [1, 32]) {
          const ours: Load[] = [];
          const theirs: Load[] = [];
          for (let round = 0; round < 2; round++) {
            ours.push(wrk(`http://127.0.0.1:${port}/repo`, connections, variant.headers));
            if (nginx) theirs.push(wrk(`http://127.0.0.1:${nginxPort}/repo-${index}`, connections, variant.headers));
          }
          const rate = median(ours.map((load) => load.requestsPerSecond));
          const p99 = median(ours.map((load) => load.p99Ms));
          const line = `  /repo ${variant.label} c=${connections}: registry ${rate.toFixed(0)} req/s p99 ${p99.toFixed(1)} ms`;
          if (nginx) {
            const baseline = median(theirs.map((load) => load.requestsPerSecond));
            process.stderr.write(`${line}; nginx ${baseline.toFixed(0)} req/s p99 ${median(theirs.map((load) => load.p99Ms)).toFixed(1)} ms; ratio ${(rate / baseline).toFixed(2)}×\n`);
          } else process.stderr.write(`${line}\n`);
        }
      }
    } finally {
      nginx?.kill('SIGTERM');
    }
  } finally {
    registry.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const skip = corpusSkipReason();
  if (skip) {
    process.stderr.write(`${skip}\n`);
    process.exit(2);
  }
  const corpus = loadCorpus();
  for (const size of SIZES) {
    const work = await mkdtemp(join(tmpdir(), `dcos-registry-bench-index-${size}-`));
    const directory = join(work, 'data');
    // Where the registry server keeps its objects under its data directory.
    const objects = join(directory, 'objects');
    try {
      process.stderr.write(`\n== ${size} versions ==\n`);
      let started = Date.now();
      await seed(objects, corpus, size - 1);
      process.stderr.write(`  seeded ${size - 1} versions in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      started = Date.now();
      // The first build runs right after the seeding wrote its files, whose write-back competes
      // for the cores: reported on its own line, not among the measured reindexes.
      const first = await runChild([objects, 'reindex', PUBLIC_URL]);
      process.stderr.write(`  first build (right after seeding): wall ${(first.wallMs / 1000).toFixed(1)} s, CPU ${(first.cpuMs / 1000).toFixed(1)} s, peak RSS ${first.maxRssMiB.toFixed(0)} MiB, longest event-loop block ${first.maxEventLoopBlockMs.toFixed(0)} ms\n`);
      const coldPublishes: Measured[] = [];
      const publishes: Measured[] = [];
      const reindexes: Measured[] = [];
      const versionFile = (label: string, n: number): string => {
        const metadata = versionOf(corpus, n);
        const file = join(work, `publish-${label}.json`);
        writeFileSync(file, JSON.stringify({ ...metadata, version: `${metadata.version}-published-${label}` }));
        return file;
      };
      for (let round = 0; round < 3; round++) {
        // Cold: the first publish of a fresh process. Warm: a publish in a process that published before.
        coldPublishes.push(await runChild([objects, 'publish', PUBLIC_URL, versionFile(`cold-${round}`, size + round * 7919)]));
        // Warm: four publishes before the measured one (index-child.ts says why one is not enough).
        const warmUps = [0, 1, 2, 3].map((index) => versionFile(`warmup-${round}-${index}`, size + round * 7919 + 29 + index * 31));
        publishes.push(await runChild([objects, 'publish', PUBLIC_URL, versionFile(`warm-${round}`, size + round * 7919 + 13), warmUps.join(',')]));
        reindexes.push(await runChild([objects, 'reindex', PUBLIC_URL]));
      }
      const summary = (label: string, runs: Measured[]): string =>
        `  ${label} (median of ${runs.length}): wall ${median(runs.map((run) => run.wallMs)).toFixed(0)} ms, CPU ${median(runs.map((run) => run.cpuMs)).toFixed(0)} ms (user ${median(runs.map((run) => run.userMs)).toFixed(0)}, system ${median(runs.map((run) => run.systemMs)).toFixed(0)}), peak RSS ${Math.max(...runs.map((run) => run.maxRssMiB)).toFixed(0)} MiB, longest event-loop block ${Math.max(...runs.map((run) => run.maxEventLoopBlockMs)).toFixed(0)} ms, written ${median(runs.map((run) => run.writtenMiB ?? Number.NaN)).toFixed(2)} MiB`;
      process.stderr.write(`${summary('publish, warm process', publishes)}\n${summary('publish, fresh process', coldPublishes)}\n${summary('reindex', reindexes)}\n`);
      process.stderr.write(`  reindex / publish CPU (warm): ${(median(reindexes.map((run) => run.cpuMs)) / median(publishes.map((run) => run.cpuMs))).toFixed(0)}×\n`);
      await serveAndLoad(directory, work);
    } finally {
      if (process.env.BENCH_INDEX_KEEP) process.stderr.write(`  kept ${work}\n`);
      else await rm(work, { recursive: true, force: true });
    }
  }
}

await main();
