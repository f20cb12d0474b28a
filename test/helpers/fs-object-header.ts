/** The header of an object file of the directory store (its layout, for a composed one), read as the store reads it. */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { readObjectFile, type ObjectHeader } from '../../lib/adapters/object-store/fs-object-file.ts';

export async function objectHeaderOf(root: string, key: string): Promise<ObjectHeader> {
  const handle = await open(`${join(root, ...key.split('/'))}.obj`, 'r');
  try {
    return (await readObjectFile(handle, key)).header;
  } finally {
    await handle.close();
  }
}
