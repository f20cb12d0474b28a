/**
 * A chain of versions of one object, each composed from the last (an insert, now and then a cut),
 * for the kill -9 test of fs-composed.test.ts. Run as a script (`<root>`), it composes the next
 * version of `chain` in the store at root, forever, until it is killed; every version's bytes
 * follow from its number alone (chainVersion), so the test can tell which version it finds and
 * whether it is whole.
 */
import { pathToFileURL } from 'node:url';
import { FsObjectStore } from '../../lib/adapters/object-store/fs-object-store.ts';
import type { ComposedPart } from '../../lib/ports/object-store.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

/** `length` bytes, the same for the same seed. */
export function bytesOf(seed: number, length: number): Buffer {
  const random = seededRandom(seed);
  const bytes = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index++) bytes[index] = Math.floor(random() * 256);
  return bytes;
}

interface Step {
  readonly at: number;
  readonly insert: Buffer;
  /** Bytes removed after the insert point. */
  readonly cut: number;
}

function stepOf(round: number, length: number): Step {
  const random = seededRandom(50_000 + round);
  const at = Math.floor(random() * length);
  const cut = round % 7 === 0 ? Math.min(1000, length - at) : 0;
  return { at, insert: bytesOf(10_000 + round, 100 + (round % 900)), cut };
}

const versions: Buffer[] = [bytesOf(1, 300_000)];

/** The bytes of version `round`. */
export function chainVersion(round: number): Buffer {
  while (versions.length <= round) {
    const previous = versions[versions.length - 1]!;
    const step = stepOf(versions.length, previous.length);
    versions.push(Buffer.concat([previous.subarray(0, step.at), step.insert, previous.subarray(step.at + step.cut)]));
  }
  return versions[round]!;
}

async function composeForever(root: string): Promise<never> {
  const store = new FsObjectStore(root);
  if (!(await store.head('chain'))) await store.put('chain', chainVersion(0), { metadata: { round: '0' }, ifNoneMatch: '*' }).catch(() => undefined);
  process.stdout.write('composing\n');
  for (;;) {
    const current = (await store.head('chain'))!;
    const round = Number(current.metadata.round);
    const previous = chainVersion(round);
    const step = stepOf(round + 1, previous.length);
    const parts: ComposedPart[] = [
      { bytes: previous.subarray(0, step.at), storedAt: { key: 'chain', etag: current.etag, offset: 0 } },
      { bytes: step.insert },
      { bytes: previous.subarray(step.at + step.cut), storedAt: { key: 'chain', etag: current.etag, offset: step.at + step.cut } },
    ];
    await store.compose('chain', parts, { ifMatch: current.etag, metadata: { round: String(round + 1) } });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await composeForever(process.argv[2]!);
