/**
 * Debian's skopeo, a real registry client: .ci/run installs it (apt), and its absence fails the
 * tests that need it, naming the fix.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function skopeo(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run('skopeo', ['--insecure-policy', ...args], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('skopeo is not installed: run `apt-get install -y skopeo` (.ci/run does it)');
    }
    const failure = error as { stderr?: string; message: string };
    throw new Error(`skopeo ${args.join(' ')} failed: ${failure.stderr ?? failure.message}`);
  }
}
