/**
 * One measured index operation in a process of its own (so its RSS and CPU are its own): `publish`
 * stages one more version the way ingest leaves it (record Processing, its documents) and runs the
 * registry's publication; `reindex` rebuilds the whole index. Prints `@@bench {json}` on stderr.
 */
import { createHash } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FsObjectStore } from '../../../lib/adapters/object-store/fs-object-store.ts';
import { InProcessJobQueue } from '../../../lib/adapters/job-queue/in-process-job-queue.ts';
import { DEFAULT_SETTINGS, type RegistryContext } from '../../../lib/registry/context.ts';
import { writeJson } from '../../../lib/registry/json-objects.ts';
import { mediaObjectKey, packageManifestKey, packageMetadataKey, packageRecordKey } from '../../../lib/registry/layout.ts';
import { withReadCache } from '../../../lib/adapters/object-store/read-cache.ts';
import { publishPackage, reindex } from '../../../lib/registry/publisher.ts';
import type { PackageRecord } from '../../../lib/registry/records.ts';
import { encodeCoordinate } from '../../../lib/universe/coordinate.ts';
import type { PackageMetadata } from '../../../lib/universe/package-model.ts';
import { silentLogger } from '../../../lib/support/logger.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { schemaErrors } from '../../../lib/universe/schema-registry.ts';

async function startProfile(): Promise<(file: string) => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: Number(process.env.BENCH_INDEX_PROFILE_INTERVAL_US ?? 200) });
  await session.post('Profiler.start');
  return async (file) => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

const [directory, operation, publicBaseUrl, metadataFile, warmUpFiles] = process.argv.slice(2) as [string, 'publish' | 'reindex', string, string | undefined, string | undefined];
// As the embedded server wraps it: the index objects stay in memory while their ETag holds, so a
// warm writer reads the index it wrote from memory (BENCH_NO_CACHE=1: from disk every time).
const backend = new FsObjectStore(directory);
const indexObjects = new Set([mediaObjectKey('v5'), mediaObjectKey('v4'), mediaObjectKey('v3')]);
const store = process.env.BENCH_NO_CACHE ? backend : withReadCache(backend, { cacheable: (key) => indexObjects.has(key), maxBytes: 256 * 1024 * 1024 });
const context: RegistryContext = {
  store,
  queue: new InProcessJobQueue(silentLogger),
  // As the embedded server runs it (it streams responses: no views stored apart). BENCH_LAMBDA=1
  // measures the AWS configuration instead, which also stores views too large to send inline.
  settings: { ...DEFAULT_SETTINGS, publicBaseUrl, ...(process.env.BENCH_LAMBDA ? {} : { streamResponses: true, maxInlineResponseBytes: 64 * 1024 * 1024 }) },
  log: silentLogger,
  now: () => new Date(),
};

async function stagePublish(file: string): Promise<() => Promise<void>> {
  const metadata = JSON.parse(readFileSync(file, 'utf8')) as PackageMetadata;
  const coordinate = encodeCoordinate(metadata);
  const contentDigest = createHash('sha256').update(JSON.stringify(metadata)).digest('hex');
  await writeJson(store, packageMetadataKey(coordinate, contentDigest), metadata);
  await writeJson(store, packageManifestKey(coordinate, contentDigest), { formatVersion: 1, builtBy: 'bench', package: { name: metadata.name, version: metadata.version }, resources: [], images: [] });
  const now = new Date().toISOString();
  const record: PackageRecord = { name: metadata.name, version: metadata.version, packagingVersion: metadata.packagingVersion, status: 'Processing', releaseVersion: null, contentDigest, uploadId: 'bench', resources: [], imageBlobs: [], images: [], addedAt: now, updatedAt: now, error: null };
  await writeJson(store, packageRecordKey(coordinate), record);
  return () => publishPackage(context, metadata.name, metadata.version, contentDigest);
}

// A warm process (the embedded server, a warm Lambda) has published before: publishes first,
// unmeasured, of the warm-up versions given (comma-separated). One is not enough to be warm: the
// JIT still compiles the publication's code on V8's threads during the next (half its CPU, seen
// at 1,201 versions).
if (operation === 'publish' && warmUpFiles) for (const file of warmUpFiles.split(',')) await (await stagePublish(file))();
const work = operation === 'publish' ? await stagePublish(metadataFile!) : async () => void (await reindex(context));
// A long-running server or a warm Lambda has compiled the schemas already: do it before measuring.
schemaErrors('v5-repo', { packages: [] });
globalThis.gc?.();
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
// BENCH_INDEX_PROFILE=<file>: a CPU profile of the measured operation alone (not the warm-up).
const profile = process.env.BENCH_INDEX_PROFILE ? await startProfile() : undefined;
const cpuBefore = process.cpuUsage();
const faultsBefore = process.resourceUsage().minorPageFault;
const writtenBefore = bytesWritten();
const started = process.hrtime.bigint();
await work();
await profile?.(process.env.BENCH_INDEX_PROFILE!);
const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
const cpu = process.cpuUsage(cpuBefore);
delay.disable();
process.stderr.write(
  `@@bench ${JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, userMs: cpu.user / 1000, systemMs: cpu.system / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024, maxEventLoopBlockMs: delay.max / 1e6, minorFaults: process.resourceUsage().minorPageFault - faultsBefore, writtenMiB: (bytesWritten() - writtenBefore) / 1024 / 1024 })}\n`,
);

/** Bytes this process has written to files so far (Linux: /proc/self/io `wchar`), or NaN elsewhere. */
function bytesWritten(): number {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}
