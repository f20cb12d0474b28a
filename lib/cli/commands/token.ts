/**
 * `dcos-registry token create --scope=<scope>`: a new random token and the configuration line
 * that grants it (its sha256, so the secret store never holds a usable credential). Made here,
 * offline: the registry learns of it only when the line is added to its configuration.
 */
import type { Command } from 'commander';
import { SCOPES, isScope } from '../../auth/scopes.ts';
import { fingerprintOf, hashedEntryLine, newToken, tokenDigest } from '../../auth/token-entries.ts';
import { RegistryError } from '../../domain/errors.ts';
import type { CommandRunner } from '../command-runner.ts';

export function registerToken(program: Command, run: CommandRunner): void {
  const token = program.command('token').description('Make access tokens for the registry');
  token
    .command('create')
    .description('Print a new token and the line that grants it a scope (read, write or admin)')
    .requiredOption('--scope <scope>', `what the token may do: ${SCOPES.join(', ')}`)
    .option('--json', 'print the result as one JSON document', false)
    .addHelpText(
      'after',
      '\nExample:\n  dcos-registry token create --scope=read\n  Add the printed line to REGISTRY_AUTH_TOKENS (comma-separated), the options secret or the AWS secret.',
    )
    .action((options: { scope: string; json: boolean }) =>
      run(options.json, async (output) => {
        if (!isScope(options.scope)) throw new RegistryError('InvalidOption', `--scope must be one of ${SCOPES.join(', ')}, got [${options.scope.slice(0, 20)}]`, {});
        const value = newToken();
        const entry = hashedEntryLine(options.scope, value);
        const fingerprint = fingerprintOf(tokenDigest(value));
        output.result(
          [
            `Token (shown once; give it to whoever calls with the ${options.scope} scope):`,
            `  ${value}`,
            'Line that grants it (add to REGISTRY_AUTH_TOKENS, comma-separated, or to the token secret):',
            `  ${entry}`,
            `In audit lines it appears as ${fingerprint}.`,
          ].join('\n'),
          { scope: options.scope, token: value, entry, fingerprint },
        );
      }),
    );
  token.commands[0]!.exitOverride().configureOutput(program.configureOutput());
}
