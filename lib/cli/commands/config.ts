import type { Command } from 'commander';
import { OPTIONS_SCHEMA, resolveOptions } from '../../deploy/options.ts';
import { readJsonFile } from '../../support/files.ts';
import type { CommandRunner } from '../command-runner.ts';

export function registerConfig(program: Command, run: CommandRunner): void {
  program
    .command('config')
    .description('Print the schema of the options file, or check an options file and print it with its defaults')
    .option('--options <file>', 'options file to check')
    .option('--json', 'print the result as one JSON document', false)
    .action((options: { options?: string; json: boolean }) =>
      run(options.json, async (output) => {
        if (!options.options) {
          output.result(JSON.stringify(OPTIONS_SCHEMA, null, 2), OPTIONS_SCHEMA);
          return;
        }
        const document = await readJsonFile(options.options);
        const resolved = resolveOptions(document, options.options);
        output.result(JSON.stringify(resolved, null, 2), resolved);
      }),
    );
}

