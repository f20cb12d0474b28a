/** Writes a bundle holding one image whose single layer has `layerBytes` bytes (for benchmarks). */
import { randomBytes } from 'node:crypto';
import { writeSingleImageBundle } from '../helpers/single-image-bundle.ts';

const MiB = 1024 * 1024;

export async function writeImageBundle(path: string, layerBytes: number): Promise<void> {
  await writeSingleImageBundle({
    path, name: 'bench-image', version: '1.0.0', repository: 'bench/big', tag: '1', description: 'benchmark',
    writeLayer: async (write) => {
      const block = randomBytes(MiB);
      for (let written = 0; written < layerBytes; written += MiB) {
        block.writeUInt32LE(written / MiB, 0);
        await write(block.subarray(0, Math.min(MiB, layerBytes - written)));
      }
      return layerBytes;
    },
  });
}
