/**
 * `--json` on every error (issue 13, item 3): every command of the built CLI (read from its own
 * help, so a new command is covered too), given an unknown option or a bad value, prints one
 * Cosmos-style envelope on stderr, nothing on stdout, and exits 1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';

async function commands(prefix: string[] = []): Promise<string[][]> {
  const help = (await runBuiltCli([...prefix, '--help'])).stdout;
  const names = [...(help.split('Commands:')[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((match) => match[1]!).filter((name) => name !== 'help');
  const found: string[][] = [];
  for (const name of names) {
    const sub = await commands([...prefix, name]);
    found.push(...(sub.length > 0 ? sub : [[...prefix, name]]));
  }
  return found;
}

function envelopeOf(stderr: string): { type: string; message: string; data: unknown } {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line on stderr, got: ${stderr}`);
  const envelope = JSON.parse(lines[0]!) as { type: string; message: string; data: unknown };
  assert.equal(typeof envelope.type, 'string');
  assert.equal(typeof envelope.message, 'string');
  assert.equal(typeof envelope.data, 'object');
  return envelope;
}

describe('--json on every error', () => {
  it('every command, with an unknown option: one envelope on stderr, exit 1', async () => {
    const all = await commands();
    assert.ok(all.length >= 15, `found ${all.map((command) => command.join(' ')).join(', ')}`);
    for (const command of all) {
      const run = await runBuiltCli([...command, '--no-such-option', '--json']);
      assert.equal(run.code, 1, command.join(' '));
      assert.equal(run.stdout, '', command.join(' '));
      assert.equal(envelopeOf(run.stderr).type, 'UsageError', command.join(' '));
    }
  });

  it('bad option values and unknown commands too, and plain text without --json', async () => {
    for (const args of [
      ['build', '--build-definition-file=x', '--output-directory=y', '--url-rewrite=bad'],
      ['build', '--build-definition-file=x', '--output-directory=y', '--registry-mirror=bad'],
      ['token', 'create'],
      ['no-such-command'],
    ]) {
      const run = await runBuiltCli([...args, '--json']);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(envelopeOf(run.stderr).message, /url-rewrite|registry-mirror|--scope|no-such-command/, args.join(' '));
    }
    const text = await runBuiltCli(['token', 'create']);
    assert.match(text.stderr, /^error: required option/);
  });
});
