// Child process of the benchmark: open a bundle and verify every resource, as ingest will.
import { readAndVerifyBundle } from '../../lib/bundle/bundle-reader.ts';
import { FileByteSource } from '../../lib/bundle/byte-source.ts';

const source = await FileByteSource.open(process.argv[2]!);
try {
  await readAndVerifyBundle(source);
} finally {
  await source.close();
}
