/**
 * `dcos-registry`: the DC/OS Package Registry CLI.
 *
 * It works standalone (`dcos-registry migrate …`) and as a DC/OS CLI plugin, where the DC/OS CLI
 * calls the executable with the subcommand word first (`dcos-registry registry migrate …`).
 */
import { Command, CommanderError } from 'commander';
import { isRegistryError } from '../domain/errors.ts';
import { PRODUCT_VERSION } from '../version.ts';
import { createCommandRunner } from './command-runner.ts';
import { registerBuild } from './commands/build.ts';
import { registerActivate } from './commands/activate.ts';
import { registerConfig } from './commands/config.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerServerCommands } from './commands/server-commands.ts';
import { registerAdminCommands } from './commands/admin-commands.ts';
import { registerToken } from './commands/token.ts';
import { registerSigning } from './commands/signing.ts';
import { COMMAND_EXAMPLES } from './examples.ts';
import type { CliStreams } from './output.ts';

export const PLUGIN_SUMMARY = 'Build, add, describe and remove packages of a DC/OS Package Registry';

export async function runCli(argv: readonly string[], streams: CliStreams): Promise<number> {
  let exitCode = 0;
  const run = createCommandRunner(streams, (code) => (exitCode = code));
  const args = argv[0] === 'registry' ? argv.slice(1) : [...argv];

  if (args.length === 1 && args[0] === '--info') {
    streams.stdout.write(`${PLUGIN_SUMMARY}\n`);
    return 0;
  }

  // Under --json, a usage error is an envelope on stderr too (commander's own text is held back).
  const json = args.includes('--json');
  const program = new Command('dcos-registry')
    .description(PLUGIN_SUMMARY)
    .version(PRODUCT_VERSION, '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => (json ? undefined : streams.stderr.write(text)),
    });
  program.option('--info', 'print a one-line description (DC/OS CLI plugin convention)');
  registerMigrate(program, run);
  registerBuild(program, run);
  registerServerCommands(program, run);
  registerAdminCommands(program, run);
  registerConfig(program, run);
  registerActivate(program, run);
  registerToken(program, run);
  registerSigning(program, run);
  for (const command of program.commands) {
    command.exitOverride().configureOutput(program.configureOutput());
    const example = COMMAND_EXAMPLES[command.name()];
    if (example) command.addHelpText('after', `\nExample:\n  ${example}`);
    // Help says which options a command cannot do without.
    for (const option of command.options) if (option.mandatory && !option.description.endsWith('(required)')) option.description = `${option.description} (required)`;
    for (const sub of command.commands) for (const option of sub.options) if (option.mandatory && !option.description.endsWith('(required)')) option.description = `${option.description} (required)`;
  }

  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      if (error.exitCode !== 0 && json) {
        streams.stderr.write(`${JSON.stringify({ type: 'UsageError', message: error.message.replace(/^error: /, ''), data: { code: error.code } })}\n`);
      }
      return error.exitCode === 0 ? 0 : 1;
    }
    // An option's own parser refused its value (--url-rewrite, --registry-mirror, …): actions
    // report their errors themselves (command-runner.ts), so what reaches here is a usage error.
    if (error instanceof Error) {
      const envelope = isRegistryError(error) ? error.toEnvelope() : { type: 'UsageError', message: error.message, data: {} };
      streams.stderr.write(json ? `${JSON.stringify(envelope)}\n` : `error: ${error.message}\n(run with --help for usage)\n`);
      return 1;
    }
    throw error;
  }
  if (args.length === 0) {
    program.outputHelp();
  }
  return exitCode;
}
