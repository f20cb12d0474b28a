/**
 * `npm run bench`: builds a bundle around one large asset (1 GiB by default, BENCH_SIZE_MIB to
 * change) and compares its throughput with a plain file copy and a plain HTTP download of the same
 * bytes, measured in the same run, with the builder's peak RSS. Then reads and verifies the
 * bundle the way the service will.
 *
 * Not a test: numbers are reported, never asserted (these machines are noisy).
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 1024);
const cli = fileURLToPath(new URL('../../dist/cli/dcos-registry.mjs', import.meta.url));
const measure = fileURLToPath(new URL('./measure-child.mjs', import.meta.url));
const verifier = fileURLToPath(new URL('./verify-bundle.ts', import.meta.url));

interface Measurement {
  readonly label: string;
  readonly seconds: number;
  readonly maxRssMiB?: number;
}

async function timed(label: string, work: () => Promise<number | undefined>): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const rssKiB = await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { label, seconds, ...(rssKiB === undefined ? {} : { maxRssMiB: rssKiB / 1024 }) };
}

function runMeasured(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      const report = /@@bench (.*)/.exec(stderr);
      if (code !== 0 || !report) {
        reject(new Error(`${args.join(' ')} failed (${code}):\n${stdout}\n${stderr}`));
        return;
      }
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

    const copy = async (label: string): Promise<Measurement> => {
      const target = join(work, `copy-${label}.bin`);
      const result = await timed(`plain file copy (${label})`, async () => {
        await pipeline(createReadStream(source, { highWaterMark: MiB }), createWriteStream(target));
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
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
