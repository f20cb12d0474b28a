import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { RegistryError } from '../../domain/errors.ts';
import { activateOnDcos, maskReadToken, plannedRequests } from '../../deploy/dcos/activate-dcos.ts';
import { resolveOptions, type RegistryOptions } from '../../deploy/options.ts';
import { readJsonFile } from '../../support/files.ts';
import type { CommandRunner } from '../command-runner.ts';
import type { CliOutput } from '../output.ts';

interface ActivateOptions {
  options?: string;
  name?: string;
  target: string;
  dcosUrl?: string;
  readToken?: string;
  stage: string;
  timeout: string;
  dryRun: boolean;
  json: boolean;
}

export function registerActivate(program: Command, run: CommandRunner): void {
  program
    .command('activate')
    .description('Stand the registry up: on DC/OS as a Marathon app registered with Cosmos, or on AWS with serverless')
    .option('--options <file>', 'options file (see `config`); without one, the defaults, which are NOT recommended in production')
    .option('--name <service-name>', 'service name (overrides service.name)')
    .option('--target <dcos|aws|localstack>', 'where to activate', 'dcos')
    .option('--dcos-url <url>', 'DC/OS cluster URL (default: $DCOS_URL); the token comes from $DCOS_ACS_TOKEN')
    .option('--read-token <token>', 'with registry.read-protection: the read token whose capability URL the cluster reads (default: $DCOS_REGISTRY_READ_TOKEN)')
    .option('--stage <stage>', 'serverless stage (aws target)', 'prod')
    .option('--timeout <seconds>', 'how long to wait for the service to be healthy', '600')
    .option('--dry-run', 'print what would be sent or run, and do nothing', false)
    .option('--json', 'print the result as one JSON document', false)
    .action((flags: ActivateOptions) =>
      run(flags.json, async (output) => {
        let document: Record<string, unknown> = {};
        if (flags.options) {
          document = (await readJsonFile(flags.options)) as Record<string, unknown>;
        } else {
          output.warn('no --options given: activating with the default options, which are NOT recommended in production');
        }
        if (flags.name) document = { ...document, service: { ...(document.service as object | undefined), name: flags.name } };
        const options = resolveOptions(document, flags.options ?? 'defaults');
        if (flags.target === 'aws' || flags.target === 'localstack') {
          const explicitUrl = (document.registry as { 'public-url'?: string } | undefined)?.['public-url'];
          return activateOnAws(options, explicitUrl, flags, output);
        }
        if (flags.target !== 'dcos') throw new RegistryError('InvalidOption', `--target must be dcos, aws or localstack, got [${flags.target}]`, {});
        const dcosUrl = flags.dcosUrl ?? process.env.DCOS_URL;
        if (!dcosUrl) throw new RegistryError('InvalidOption', 'No DC/OS cluster given: pass --dcos-url or set DCOS_URL', {});
        const readToken = flags.readToken ?? process.env.DCOS_REGISTRY_READ_TOKEN;
        if (flags.dryRun) {
          // The token is not printed: the plan shows where it goes.
          const requests = plannedRequests(options, { dcosUrl, ...(readToken ? { readToken } : {}) });
          const shown = JSON.parse(maskReadToken(JSON.stringify(requests), readToken)) as typeof requests;
          output.result(JSON.stringify(shown, null, 2), { dryRun: true, requests: shown });
          return;
        }
        const token = process.env.DCOS_ACS_TOKEN;
        const result = await activateOnDcos(options, { dcosUrl, timeoutSeconds: Number(flags.timeout), ...(token ? { token } : {}), ...(readToken ? { readToken } : {}) }, (line) => output.info(line));
        output.result(`Activated ${result.app}; repository ${result.repository} added at index 0`, result);
      }),
    );
}

/** The serverless deployment the options describe: printed with --dry-run, run otherwise. */
async function activateOnAws(options: RegistryOptions, publicUrl: string | undefined, flags: ActivateOptions, output: CliOutput): Promise<void> {
  if (options.storage.kind !== 's3') throw new RegistryError('InvalidOptions', `The ${flags.target} target needs registry.s3 (the bucket the stack creates)`, {});
  const localstack = flags.target === 'localstack';
  const stage = localstack ? 'localstack' : flags.stage;
  const args = ['osls', 'deploy', '--stage', stage, `--param=bucketName=${options.storage.bucket}`];
  // Without a public URL of its own, the stack uses its HTTP API's endpoint.
  if (publicUrl) args.push(`--param=publicUrl=${publicUrl}`);
  // LocalStack: osls (AWS SDK v3) goes wherever AWS_ENDPOINT_URL says; the options' S3 endpoint names it.
  const environment: Record<string, string> = localstack ? { AWS_ENDPOINT_URL: options.storage.endpoint ?? 'http://localhost:4566' } : {};
  const command = [...Object.entries(environment).map(([name, value]) => `${name}=${value}`), 'npx', ...args];
  if (flags.dryRun) {
    output.result(command.join(' '), { dryRun: true, command, environment });
    return;
  }
  const code = await new Promise<number>((resolve) =>
    spawn('npx', args, { stdio: 'inherit', env: { ...process.env, ...environment } }).on('close', (exit) => resolve(exit ?? 1)),
  );
  if (code !== 0) throw new RegistryError('DeployFailed', `${command.join(' ')} failed with exit code ${code}`, {});
  output.result(`Deployed stage ${stage}`, { stage });
}
