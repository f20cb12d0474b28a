/** Writes the sample bundle with the product's own BundleWriter (streamed, zip64 local headers). */
import { join } from 'node:path';
import { BundleWriter } from '../../lib/bundle/bundle-writer.ts';
import { ASSET_BYTES, ICON_BYTES, sampleManifest, sampleMetadata } from './bundle-builder.ts';

export async function writeSampleBundle(directory: string): Promise<string> {
  const path = join(directory, 'sample-1.0.0.dcos');
  const writer = await BundleWriter.create(path, { overwrite: false });
  for (const bytes of [ASSET_BYTES, ICON_BYTES]) {
    const upload = await writer.beginResource();
    await upload.write(bytes);
    await upload.complete();
  }
  await writer.finish(sampleMetadata(), sampleManifest());
  return path;
}
