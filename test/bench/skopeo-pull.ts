/**
 * skopeo pulls from the embedded server against skopeo copying the same image between two local
 * OCI layouts (`oci:` → `oci:`, no network): images of 5 × 100 MiB layers (above the 64 MiB inline
 * limit) and 4 × 60 MiB layers (below it, where blobs used to be read whole and base64-encoded).
 * Interleaved A B A B, medians; the server's resident memory sampled from /proc during one pull
 * and during four at once (issue 11). Run by `npm run bench`; needs skopeo (.ci/run installs it).
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { httpAdd } from '../helpers/http-add.ts';
import { median, residentMiB } from '../helpers/process-measures.ts';
import { startRegistryProcess } from '../helpers/registry-process.ts';
import { imageDocuments, writeSingleImageBundle } from '../helpers/single-image-bundle.ts';
import { skopeo } from '../helpers/skopeo.ts';

const MiB = 1024 * 1024;
const TOKEN = 'bench-skopeo-pull-token-0123456789';
const ROUNDS = 3;


async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** Peak resident memory of `pid` while `work` runs (sampled every 20 ms). */
async function peakWhile(pid: number, work: () => Promise<unknown>): Promise<{ before: number; peak: number }> {
  const before = residentMiB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, residentMiB(pid))), 20);
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  return { before, peak: Math.max(peak, residentMiB(pid)) };
}

/**
 * A layer's bytes: an AES-CTR key stream seeded by its index, so the bundle and the baseline's
 * layout get the same bytes, and gzip (which skopeo applies) has real work, as with real layers.
 */
async function writeLayer(write: (bytes: Uint8Array) => Promise<void>, index: number, layerMiB: number): Promise<number> {
  const stream = createCipheriv('aes-256-ctr', createHash('sha256').update(`layer ${index}`).digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  for (let mib = 0; mib < layerMiB; mib++) await write(stream.update(zeros));
  return layerMiB * MiB;
}

/** An OCI image layout holding the same image as the bundle (layers, config and manifest alike: the same bytes). */
async function writeLayout(directory: string, layers: number, layerMiB: number): Promise<void> {
  const blobs = join(directory, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const store = async (bytes: Buffer): Promise<string> => {
    const digest = createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(blobs, digest), bytes);
    return digest;
  };
  const stored: { sha256: string; size: number }[] = [];
  for (let index = 0; index < layers; index++) {
    const chunks: Buffer[] = [];
    const size = await writeLayer(async (bytes) => void chunks.push(Buffer.from(bytes)), index, layerMiB);
    stored.push({ sha256: await store(Buffer.concat(chunks)), size });
  }
  // The bundle's own documents: the layout holds the very manifest the registry serves.
  const { config, manifest } = imageDocuments(stored);
  await store(config);
  const manifestDigest = await store(manifest);
  await writeFile(join(directory, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(directory, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${manifestDigest}`, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': '1' } }],
  }));
}

export async function benchSkopeoPull(): Promise<void> {
  if (spawnSync('sh', ['-c', 'command -v skopeo']).status !== 0) {
    console.log('\nskopeo pull benchmark: skipped, skopeo is not installed (apt-get install -y skopeo; .ci/run does it)');
    return;
  }
  const work = await mkdtemp(join(tmpdir(), 'dcos-registry-bench-pull-'));
  const server = await startRegistryProcess({ REGISTRY_DATA_DIR: join(work, 'data'), REGISTRY_AUTH_TOKENS: TOKEN });
  const rows: Record<string, string>[] = [];
  try {
    const host = new URL(server.url).host;
    for (const [layers, layerMiB] of [[5, 100], [4, 60]] as const) {
      const repository = `bench/l${layers}x${layerMiB}`;
      const bundle = join(work, `${layers}x${layerMiB}.dcos`);
      await writeSingleImageBundle({
        path: bundle, name: `pull-${layers}x${layerMiB}`, version: '1.0.0', repository, tag: '1', description: 'skopeo pull benchmark', layers,
        writeLayer: (write, index) => writeLayer(write, index, layerMiB),
      });
      const added = await httpAdd(server.url, TOKEN, await readFile(bundle), { timeoutMs: 600_000 });
      if (added.status !== 'Accepted') throw new Error(`add of the ${layers} × ${layerMiB} MiB image: ${JSON.stringify(added.error)}`);
      await rm(bundle);
      const source = `docker://${host}/${repository}:1`;
      // The baseline's source: the same image, layers as the registry serves them (uncompressed
      // tar), in a local OCI layout. skopeo compresses such layers on the way into an `oci:`
      // destination either way, so both sides do the same work but for the transport.
      const layout = join(work, `layout-${layers}x${layerMiB}`);
      await writeLayout(layout, layers, layerMiB);
      const pulls: number[] = [];
      const copies: number[] = [];
      let one = { before: 0, peak: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        const target = join(work, 'pulled');
        const measured = await peakWhile(server.child.pid!, async () => pulls.push(await timed(() => skopeo(['copy', '--src-tls-verify=false', source, `oci:${target}:1`]))));
        one = { before: measured.before, peak: Math.max(one.peak, measured.peak) };
        await rm(target, { recursive: true, force: true });
        copies.push(await timed(() => skopeo(['copy', `oci:${layout}:1`, `oci:${target}:1`])));
        await rm(target, { recursive: true, force: true });
      }
      const four = await peakWhile(server.child.pid!, () =>
        Promise.all([0, 1, 2, 3].map(async (client) => {
          const target = join(work, `pulled-${client}`);
          await skopeo(['copy', '--src-tls-verify=false', source, `oci:${target}:1`]);
          await rm(target, { recursive: true, force: true });
        })),
      );
      await rm(layout, { recursive: true, force: true });
      rows.push({
        image: `${layers} × ${layerMiB} MiB layers`,
        'pull s (median)': median(pulls).toFixed(2),
        'oci→oci s (median)': median(copies).toFixed(2),
        'vs oci→oci': (median(copies) / median(pulls)).toFixed(2),
        'server RSS MiB (idle → 1 pull)': `${one.before.toFixed(0)} → ${one.peak.toFixed(0)}`,
        'server RSS MiB (4 pulls)': `${four.before.toFixed(0)} → ${four.peak.toFixed(0)}`,
      });
    }
  } finally {
    await server.kill();
    await rm(work, { recursive: true, force: true });
  }
  console.log(`\nskopeo pull benchmark: embedded server vs skopeo oci:→oci: of the same image, ${ROUNDS} interleaved rounds`);
  console.table(rows);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchSkopeoPull();
