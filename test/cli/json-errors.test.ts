/**
 * `--json` on every error (issue 13, item 3): every command of the built CLI (read from its own
 * help, so a new command is covered too), given an unknown option or a bad value, prints one
 * Cosmos-style envelope on stderr, nothing on stdout, and exits 1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runBuiltCli } from '../helpers/cli.ts';
import { cliCommands } from '../helpers/cli-commands.ts';

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
    const all = await cliCommands();
    assert.ok(all.length >= 15, `found ${all.map((command) => command.join(' ')).join(', ')}`);
    for (const command of all) {
      const run = await runBuiltCli([...command, '--no-such-option', '--json']);
      assert.equal(run.code, 1, command.join(' '));
      assert.equal(run.stdout, '', command.join(' '));
      assert.equal(envelopeOf(run.stderr).type, 'UsageError', command.join(' '));
    }
  });

  it('every command\'s --help has an example and marks the options it cannot do without', async () => {
    for (const command of await cliCommands()) {
      const help = (await runBuiltCli([...command, '--help'])).stdout;
      assert.match(help, /\nExample:\n {2}\S/, `${command.join(' ')} --help`);
      assert.doesNotMatch(help.replace(/\(required\)/g, ''), /required/i, `${command.join(' ')}: "required" outside the marks`);
    }
    assert.match((await runBuiltCli(['add', '--help'])).stdout, /--dcos-file <file> +bundle built by `build` \(required\)/);
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
