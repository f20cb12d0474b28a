/**
 * Each Lambda function as deployed: its zip's size and its module init time (`npm run bench`,
 * alone with `npm run bench:lambda`). Packages the functions offline twice, the default
 * (`sourceMaps=beside`: minified, no map in the zip, none loaded) and `sourceMaps=loaded` (map in
 * the zip, --enable-source-maps), then imports each handler module in a fresh Node process with a
 * Lambda-like environment, the functions interleaved, BENCH_LAMBDA_ROUNDS rounds (default 5);
 * reports medians. Init is the handler module's import (what the Lambda init phase runs of ours),
 * without Node's own start.
 *
 * Not a test: numbers are reported, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median } from '../helpers/process-measures.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const ROUNDS = Number(process.env.BENCH_LAMBDA_ROUNDS ?? 5);

const LAMBDA_ENV = {
  PATH: process.env.PATH ?? '',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  REGISTRY_BUCKET: 'bench-bucket',
  REGISTRY_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench.fifo',
  REGISTRY_PUBLIC_URL: 'https://registry.example',
  REGISTRY_AUTH_TOKENS: 'bench-token',
};

function packageFunctions(directory: string, sourceMaps: 'beside' | 'loaded'): void {
  const result = spawnSync(process.execPath, [join(root, 'scripts/package-aws.mjs'), '--stage', 'bench', '--package', directory, '--param', `sourceMaps=${sourceMaps}`], {
    cwd: root,
    env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: 'none-configured', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`packaging failed:\n${result.stdout}\n${result.stderr}`);
}

/** Milliseconds to import the handler module, in a fresh process. */
function initMs(handler: string, nodeOptions: string[]): number {
  const script = `const started = performance.now(); await import(${JSON.stringify(pathToFileURL(handler).href)}); process.stdout.write(String(performance.now() - started));`;
  const result = spawnSync(process.execPath, [...nodeOptions, '--input-type=module', '-e', script], { env: LAMBDA_ENV, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`importing ${handler} failed:\n${result.stderr}`);
  return Number(result.stdout);
}

export async function benchLambdaFunctions(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v unzip']).status !== 0) {
    process.stderr.write('lambda functions: unzip is not installed (Debian: apt-get install unzip); not measured\n');
    return;
  }
  const work = await mkdtemp(join(tmpdir(), 'dcos-registry-bench-lambda-'));
  try {
    const modes = [
      { mode: 'beside' as const, nodeOptions: [] as string[] },
      { mode: 'loaded' as const, nodeOptions: ['--enable-source-maps'] },
    ];
    const zips = new Map<string, number>();
    const handlers = new Map<string, string>();
    for (const { mode } of modes) {
      const directory = join(work, mode);
      packageFunctions(directory, mode);
      for (const file of (await readdir(directory)).filter((name) => name.endsWith('.zip'))) {
        const name = file.slice(0, -4);
        zips.set(`${mode}/${name}`, (await stat(join(directory, file))).size);
        const unpacked = join(directory, name);
        const unzipped = spawnSync('unzip', ['-q', '-o', join(directory, file), '-d', unpacked]);
        if (unzipped.status !== 0) throw new Error(`unzip ${file} failed`);
        handlers.set(`${mode}/${name}`, join(unpacked, 'functions', `${name}.mjs`));
      }
    }
    const names = [...new Set([...handlers.keys()].map((key) => key.split('/')[1]!))].sort();
    const times = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names) {
        for (const { mode, nodeOptions } of modes) {
          const key = `${mode}/${name}`;
          times.set(key, [...(times.get(key) ?? []), initMs(handlers.get(key)!, nodeOptions)]);
        }
      }
    }
    process.stderr.write(`\n== Lambda functions (zip size; module init, median of ${ROUNDS}, local Node ${process.version}) ==\n`);
    process.stderr.write('  function     zip (beside)   init (beside)   zip (loaded)   init (loaded, --enable-source-maps)\n');
    for (const name of names) {
      const cell = (mode: string) => [`${((zips.get(`${mode}/${name}`) ?? 0) / 1024).toFixed(0)} KiB`, `${median(times.get(`${mode}/${name}`)!).toFixed(0)} ms`];
      const [besideZip, besideInit] = cell('beside');
      const [loadedZip, loadedInit] = cell('loaded');
      process.stderr.write(`  ${name.padEnd(12)} ${besideZip!.padStart(10)}   ${besideInit!.padStart(12)}   ${loadedZip!.padStart(12)}   ${loadedInit!.padStart(10)}\n`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchLambdaFunctions();
