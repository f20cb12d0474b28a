/**
 * `npm run bench`: builds a bundle around one large asset (1 GiB by default, BENCH_SIZE_MIB to
 * change) and compares its throughput with a plain file copy and a plain HTTP download of the same
 * bytes, measured in the same run, with the builder's peak RSS. Then reads and verifies the
 * bundle the way the service will.
 *
 * Not a test: numbers are reported, never asserted (these machines are noisy).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import { writeImageBundle } from './image-bundle.ts';
import { benchAddEndToEnd } from './add-end-to-end.ts';
import { benchLambdaFunctions } from './lambda-functions.ts';
import { benchSkopeoPull } from './skopeo-pull.ts';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
const cli = fileURLToPath(new URL('../../dist/cli/dcos-registry.mjs', import.meta.url));
const measure = fileURLToPath(new URL('./measure-child.mjs', import.meta.url));
const verifier = fileURLToPath(new URL('./verify-bundle.ts', import.meta.url));
const ingester = fileURLToPath(new URL('./ingest-child.ts', import.meta.url));

interface Measurement {
  readonly label: string;
  readonly seconds: number;
  readonly maxRssMiB?: number;
}

async function timed(label: string, work: () => Promise<number | undefined>): Promise<Measurement> {
  // Start every measurement with nothing left to write back: otherwise one step pays for the
  // dirty pages of the one before (seen here: a 1 GiB copy "faster" with fsync than without).
  spawnSync('sync');
  const started = process.hrtime.bigint();
  const rssKiB = await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { label, seconds, ...(rssKiB === undefined ? {} : { maxRssMiB: rssKiB / 1024 }) };
}

function runMeasured(args: string[], report?: (stderr: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const reportTo = report;
    child.on('close', (code) => {
      const report = /@@bench (.*)/.exec(stderr);
      if (code !== 0 || !report) {
        reject(new Error(`${args.join(' ')} failed (${code}):\n${stdout}\n${stderr}`));
        return;
      }
      reportTo?.(stderr);
      resolve((JSON.parse(report[1]!) as { maxRssKiB: number }).maxRssKiB);
    });
  });
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'dcos-registry-bench-'));
  try {
    const source = join(work, 'asset.bin');
    process.stderr.write(`writing a ${sizeMiB} MiB asset…\n`);
    const file = await open(source, 'w');
    const block = randomBytes(MiB);
    for (let index = 0; index < sizeMiB; index++) {
      block.writeUInt32LE(index, 0); // every block distinct
      await file.write(block);
    }
    await file.close();

    const server = createServer((request, response) => {
      void stat(source).then((info) => {
        response.writeHead(200, { 'content-length': info.size, 'content-type': 'application/octet-stream' });
        createReadStream(source, { highWaterMark: MiB }).pipe(response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/asset.bin`;
    const definition = join(work, 'bench.json');
    await writeFile(
      definition,
      JSON.stringify({
        packagingVersion: '4.0', name: 'bench', version: '1.0.0', maintainer: 'bench', description: 'benchmark', tags: ['bench'],
        resource: { assets: { uris: { big: url } } },
      }),
    );

    const copy = async (label: string, from = source): Promise<Measurement> => {
      const target = join(work, `copy-${label.replace(/\W+/g, '-')}.bin`);
      const result = await timed(`plain file copy (${label})`, async () => {
        await pipeline(createReadStream(from, { highWaterMark: MiB }), createWriteStream(target));
        return undefined;
      });
      await rm(target);
      return result;
    };
    const download = async (): Promise<Measurement> => {
      const target = join(work, 'download.bin');
      const result = await timed('plain HTTP download to a file', async () => {
        await new Promise<void>((resolve, reject) => {
          http.get(url, (response) => void pipeline(response, createWriteStream(target)).then(resolve, reject)).on('error', reject);
        });
        return undefined;
      });
      await rm(target);
      return result;
    };

    const copyBefore = await copy('before');
    const plainDownload = await download();
    const build = await timed('dcos-registry build (download into the bundle)', () =>
      runMeasured([measure, cli, 'build', `--build-definition-file=${definition}`, `--output-directory=${work}`, '--json']),
    );
    const bundle = join(work, 'bench-1.0.0.dcos');
    const verify = await timed('bundle reader: open + verify sha256 of every byte', () =>
      runMeasured(['--import', 'tsx', measure, verifier, bundle]),
    );
    const copyAfter = await copy('after');
    server.close();

    const bytes = sizeMiB * MiB;
    const baseline = (copyBefore.seconds + copyAfter.seconds) / 2;
    const rows = [copyBefore, copyAfter, plainDownload, build, verify].map((row) => ({
      step: row.label,
      seconds: row.seconds.toFixed(2),
      'MiB/s': (bytes / MiB / row.seconds).toFixed(0),
      'vs copy': (baseline / row.seconds).toFixed(2),
      'peak RSS MiB': row.maxRssMiB === undefined ? '' : row.maxRssMiB.toFixed(0),
    }));
    console.log(`\nBundle build benchmark: one ${sizeMiB} MiB asset, Node ${process.version}`);
    console.table(rows);
    console.log(
      `build throughput = ${(baseline / build.seconds).toFixed(2)}× a plain file copy, ${(plainDownload.seconds / build.seconds).toFixed(2)}× a plain HTTP download; ` +
        `peak RSS ${build.maxRssMiB?.toFixed(0)} MiB (goal < 150 MiB); bundle ${((await stat(bundle)).size / MiB).toFixed(1)} MiB`,
    );
    await benchIngest(work, copy);
    await benchAddEndToEnd();
    await benchSkopeoPull();
    await benchLambdaFunctions();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Ingest of a bundle holding one image with a large layer, on the filesystem store: verification
 * of every byte, then the content-addressed copy, then publication. At two sizes, to show that
 * memory does not grow with the bundle.
 */
async function benchIngest(work: string, copy: (label: string, source?: string) => Promise<Measurement>): Promise<void> {
  const sizes = [...new Set([Math.min(256, sizeMiB), sizeMiB])];
  const rows: Record<string, string>[] = [];
  for (const size of sizes) {
    const bundle = join(work, `image-${size}.dcos`);
    process.stderr.write(`writing a bundle with a ${size} MiB image layer…\n`);
    await writeImageBundle(bundle, size * MiB);
    const root = join(work, `store-${size}`);
    const key = `uploads/${randomUUID()}.dcos`;
    await new FsObjectStore(root).put(key, createReadStream(bundle, { highWaterMark: MiB }));
    // Read once first, so that every measured step reads from the page cache alike.
    for await (const chunk of createReadStream(bundle, { highWaterMark: MiB })) void chunk;
    const baseline = await copy(`bundle ${size} MiB`, bundle);
    // The filesystem store syncs every object to disk before it counts as written (nothing lost
    // on a crash): the fair baseline for it is a copy that syncs too.
    const durable = await timed(`durable copy ${size} MiB`, async () => {
      const target = join(work, `durable-${size}.bin`);
      await pipeline(createReadStream(bundle, { highWaterMark: MiB }), createWriteStream(target));
      const handle = await open(target, 'r+');
      await handle.sync();
      await handle.close();
      await rm(target);
      return undefined;
    });
    let inChild = 0;
    const ingest = await timed(`ingest ${size} MiB`, () =>
      runMeasured(['--import', 'tsx', measure, ingester, root, key], (stderr) => {
        inChild = (JSON.parse(/@@ingest (.*)/.exec(stderr)?.[1] ?? '{"seconds":0}') as { seconds: number }).seconds;
      }),
    );
    const bytes = (await stat(bundle)).size;
    rows.push({
      bundle: `${size} MiB image`,
      'copy s': baseline.seconds.toFixed(2),
      'copy+fsync s': durable.seconds.toFixed(2),
      'ingest s': inChild.toFixed(2),
      'with process start s': ingest.seconds.toFixed(2),
      'ingest MiB/s': (bytes / MiB / inChild).toFixed(0),
      'vs copy': (baseline.seconds / inChild).toFixed(2),
      'vs copy+fsync': (durable.seconds / inChild).toFixed(2),
      'peak RSS MiB': ingest.maxRssMiB?.toFixed(0) ?? '',
    });
    await rm(root, { recursive: true, force: true });
    await rm(bundle, { force: true });
  }
  console.log('\nIngest benchmark: a bundle with one image layer, filesystem store (verify, copy, publish)');
  console.table(rows);
  console.log('goal: ingest >= 0.6x a plain copy of the same bytes, peak RSS < 200 MiB and flat as the bundle grows');
  console.log('ingest reads every byte once (checked as it is copied) and syncs what it writes to disk');
}

await main();
