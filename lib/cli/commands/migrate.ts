import type { Command } from 'commander';
import { migrate } from '../../packaging/migrate.ts';
import type { CommandRunner } from '../command-runner.ts';

export function registerMigrate(program: Command, run: CommandRunner): void {
  program
    .command('migrate')
    .description('Turn a Universe package directory into a DC/OS build definition')
    .requiredOption('--package-directory <dir>', 'Universe package revision directory (package.json, config.json, ...)')
    .requiredOption('--output-directory <dir>', 'directory that receives <name>-<version>.json')
    .option('--force', 'replace an existing build definition', false)
    .option('--json', 'print the result as one JSON document', false)
    .action((options: { packageDirectory: string; outputDirectory: string; force: boolean; json: boolean }) =>
      run(options.json, async (output) => {
        const outcome = await migrate({
          packageDirectory: options.packageDirectory,
          outputDirectory: options.outputDirectory,
          overwrite: options.force,
        });
        for (const warning of outcome.warnings) output.warn(warning);
        output.result(`Created DC/OS Build Definition ${outcome.path}`, { name: outcome.path });
      }),
    );
}
