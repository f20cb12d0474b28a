/**
 * Feeds thousands of mutated bundles to the reader. Each must be accepted or refused with an
 * InvalidBundleError, within a time bound: no other exception, no hang. The PRNG is seeded, so a
 * failure names the case that reproduces it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { readAndVerifyBundle } from '../../lib/bundle/bundle-reader.ts';
import { InvalidBundleError } from '../../lib/bundle/bundle-errors.ts';
import { BufferByteSource } from '../../lib/bundle/byte-source.ts';
import { sampleBundleEntries } from '../helpers/bundle-builder.ts';
import { writeSampleBundle } from '../helpers/sample-bundle-file.ts';
import { temporaryDirectory } from '../helpers/temp-dir.ts';
import { craftZip } from '../helpers/zip-crafter.ts';
import { seededRandom } from '../helpers/seeded-random.ts';

const CASES_PER_BASE = 1_250;
const CASE_TIME_LIMIT_MS = 5_000;
const SEED = Number(process.env.FUZZ_SEED ?? 20261129);


const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe];

/** One mutation of `base`; mutations favour the end of the file, where the ZIP structure lives. */
function mutate(base: Buffer, random: () => number): Buffer {
  const bytes = Buffer.from(base);
  const position = (): number => {
    const tailBiased = random() < 0.6;
    const span = tailBiased ? Math.min(400, bytes.length) : bytes.length;
    return bytes.length - 1 - Math.floor(random() * span);
  };
  switch (Math.floor(random() * 7)) {
    case 0: {
      const flips = 1 + Math.floor(random() * 8);
      for (let i = 0; i < flips; i++) {
        const at = position();
        bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
      }
      return bytes;
    }
    case 1: {
      const at = position();
      for (let i = 0; i < 4 && at + i < bytes.length; i++) bytes[at + i] = INTERESTING[Math.floor(random() * INTERESTING.length)]!;
      return bytes;
    }
    case 2:
      return bytes.subarray(0, Math.floor(random() * bytes.length));
    case 3: {
      const at = position();
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([Math.floor(random() * 256)]), bytes.subarray(at)]);
    }
    case 4: {
      const at = position();
      const length = 1 + Math.floor(random() * 16);
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + length))]);
    }
    case 5: {
      // A 32-bit field set to an extreme value: sizes, offsets and counts that lie.
      const at = Math.max(0, position() - 3);
      bytes.writeUInt32LE([0xffffffff, 0, 0x7fffffff, bytes.length, 0x10000][Math.floor(random() * 5)]!, Math.min(at, bytes.length - 4));
      return bytes;
    }
    default: {
      const from = Math.floor(random() * bytes.length);
      const length = Math.floor(random() * 64);
      const to = position();
      bytes.copy(bytes, to, from, Math.min(bytes.length, from + length));
      return bytes;
    }
  }
}

async function withinTimeLimit<T>(work: Promise<T>, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} did not finish within ${CASE_TIME_LIMIT_MS} ms`)), CASE_TIME_LIMIT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('bundle reader under fuzzing', () => {
  it(`survives ${2 * CASES_PER_BASE} mutated bundles (seed ${SEED})`, async (t) => {
    const directory = await temporaryDirectory();
    const bases: [string, Buffer][] = [
      ['written by BundleWriter', await readFile(await writeSampleBundle(directory))],
      ['crafted', craftZip(sampleBundleEntries())],
    ];
    const random = seededRandom(SEED);
    let accepted = 0;
    let refused = 0;
    const reasons = new Map<string, number>();
    for (const [label, base] of bases) {
      await readAndVerifyBundle(new BufferByteSource(base));
      for (let index = 0; index < CASES_PER_BASE; index++) {
        const mutated = mutate(base, random);
        const name = `case ${index} of the ${label} bundle (FUZZ_SEED=${SEED})`;
        try {
          await withinTimeLimit(readAndVerifyBundle(new BufferByteSource(mutated)), name);
          accepted++;
        } catch (error) {
          if (!(error instanceof InvalidBundleError)) {
            assert.fail(`${name} threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} instead of an InvalidBundleError`);
          }
          refused++;
          reasons.set(error.reason, (reasons.get(error.reason) ?? 0) + 1);
        }
      }
    }
    t.diagnostic(JSON.stringify({ accepted, refused, reasons: Object.fromEntries(reasons) }));
    assert.equal(accepted + refused, 2 * CASES_PER_BASE);
    assert.ok(refused > CASES_PER_BASE, `most mutations must be refused (refused ${refused})`);
    assert.ok(reasons.size >= 6, `mutations reach several checks: ${JSON.stringify(Object.fromEntries(reasons))}`);
  });
});
