/** Real image bundles for the tag attacks: one image `repository:tag` whose layer depends on `seed`. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSingleImageBundle } from '../helpers/single-image-bundle.ts';

export async function imageBundle(options: { name: string; version?: string; repository: string; tag?: string; seed: string }): Promise<{ bytes: Buffer; manifestDigest: string; layerDigest: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'img-'));
  const path = join(directory, 'b.dcos');
  const written = await writeSingleImageBundle({
    path,
    name: options.name,
    version: options.version ?? '1.0.0',
    repository: options.repository,
    ...(options.tag ? { tag: options.tag } : {}),
    description: `image ${options.seed}`,
    writeLayer: async (write) => {
      const layerBytes = Buffer.alloc(64 * 1024, 0);
      Buffer.from(`layer ${options.seed}`).copy(layerBytes);
      await write(layerBytes);
      return layerBytes.length;
    },
  });
  const bytes = await readFile(path);
  await rm(directory, { recursive: true, force: true });
  return { bytes, ...written };
}
