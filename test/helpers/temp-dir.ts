import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** A fresh directory, removed after the test that asked for it (call it inside a test, not a hook). */
export async function temporaryDirectory(prefix = 'dcos-registry-test-'): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), prefix));
  after(() => rm(directory, { recursive: true, force: true }));
  return directory;
}
