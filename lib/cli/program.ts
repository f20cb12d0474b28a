/**
 * `dcos-registry`: the DC/OS Package Registry CLI.
 *
 * It works standalone (`dcos-registry migrate …`) and as a DC/OS CLI plugin, where the DC/OS CLI
 * calls the executable with the subcommand word first (`dcos-registry registry migrate …`).
 */
import { Command, CommanderError } from 'commander';
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

  const program = new Command('dcos-registry')
    .description(PLUGIN_SUMMARY)
    .version(PRODUCT_VERSION, '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
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
  for (const command of program.commands) command.exitOverride().configureOutput(program.configureOutput());

  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return error.exitCode === 0 ? 0 : 1;
    }
    throw error;
  }
  if (args.length === 0) {
    program.outputHelp();
  }
  return exitCode;
}
