import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const created = new Set<string>();
// Removed when the test file's process ends (each test file runs in its own process), whatever
// hook or test asked for them: a directory made in a before() hook must outlive that hook.
process.once('exit', () => {
  for (const directory of created) rmSync(directory, { recursive: true, force: true });
});

/** A fresh directory, removed when this test file's process exits. */
export async function temporaryDirectory(prefix = 'dcos-registry-test-'): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), prefix));
  created.add(directory);
  return directory;
}
