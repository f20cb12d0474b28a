import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { signingKeyFrom } from '../../signing/bundle-signature.ts';
import { buildBundle, type BuildReporter } from '../../packaging/build-bundle.ts';
import { parseUrlRewrite, type UrlRewriteRule } from '../../packaging/fetch/url-rewrite.ts';
import { parseAssignment } from '../../support/assignment.ts';
import { PackagingError } from '../../domain/errors.ts';
import { defaultDockerConfigPath, loadDockerCredentials } from '../../images/docker-credentials.ts';
import type { CommandRunner } from '../command-runner.ts';
import type { CliOutput } from '../output.ts';
import { createByteProgress } from '../progress.ts';
import { platformChoiceOf } from '../../images/platforms.ts';
import { describeUnresolvedImage } from '../../universe/image-locations.ts';

interface BuildCommandOptions {
  buildDefinitionFile: string;
  outputDirectory: string;
  urlRewrite: UrlRewriteRule[];
  registryMirror: [string, string][];
  imageSource: [string, string][];
  insecureRegistry: string[];
  dockerConfig?: string;
  platform: string[];
  strictImages: boolean;
  retries: string;
  signKey?: string;
  force: boolean;
  json: boolean;
}

export function registerBuild(program: Command, run: CommandRunner): void {
  program
    .command('build')
    .description('Download every asset of a build definition into a self-contained <name>-<version>.dcos bundle')
    .requiredOption('--build-definition-file <file>', 'build definition written by migrate (or by hand, with @file references)')
    .requiredOption('--output-directory <dir>', 'directory that receives <name>-<version>.dcos')
    .option(
      '--url-rewrite <FROM=TO>',
      'fetch URLs starting with FROM from TO instead (repeatable; the bundle keeps the original URLs)',
      (value: string, rules: UrlRewriteRule[]) => [...rules, parseUrlRewrite(value)],
      [] as UrlRewriteRule[],
    )
    .option(
      '--registry-mirror <HOST=MIRROR>',
      'pull images of registry HOST from MIRROR instead (repeatable; e.g. docker.io=mirror.local:5000)',
      (value: string, pairs: [string, string][]) => [...pairs, parseAssignment('--registry-mirror', 'HOST=MIRROR', value)],
      [] as [string, string][],
    )
    .option(
      '--image-source <IMAGE=PATH>',
      'take IMAGE (as the package names it) from a docker save archive or an OCI image layout instead of its registry (repeatable)',
      (value: string, pairs: [string, string][]) => [...pairs, parseAssignment('--image-source', 'IMAGE=PATH', value)],
      [] as [string, string][],
    )
    .option('--insecure-registry <HOST>', 'reach this registry (or mirror) over plain HTTP (repeatable)', (value: string, hosts: string[]) => [...hosts, value], [] as string[])
    .option('--docker-config <file>', 'Docker config.json with registry credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)')
    .option('--platform <os/arch>', 'platform taken from multi-platform images: repeatable (or a comma list), or all (default linux/amd64)', (value: string, values: string[]) => [...values, value], [] as string[])
    .option('--strict-images', 'refuse a package that may run an image which cannot be bundled', false)
    .option('--retries <n>', 'retries for transient download failures', '3')
    .option('--sign-key <file>', 'sign the bundle with this Ed25519 private key (PEM; dcos-registry key create makes one)')
    .option('--force', 'replace an existing bundle', false)
    .option('--json', 'print the result as one JSON document', false)
    .action((options: BuildCommandOptions) =>
      run(options.json, async (output) => {
        const retries = Number(options.retries);
        if (!Number.isInteger(retries) || retries < 0 || retries > 20) {
          throw new PackagingError('InvalidOption', `--retries expects a whole number from 0 to 20, got [${options.retries}]`, {});
        }
        const platforms = platformChoiceOf(options.platform);
        // Read before anything is fetched: a wrong key fails at once, not after the downloads.
        const signingKey = options.signKey ? signingKeyFrom(await readFile(options.signKey, 'utf8').catch((error: Error) => {
          throw new PackagingError('InvalidOption', `--sign-key: cannot read ${options.signKey}: ${error.message}`, {});
        })) : undefined;
        const credentials = await loadDockerCredentials(options.dockerConfig ?? defaultDockerConfigPath(), options.dockerConfig !== undefined);
        // Ctrl-C and SIGTERM end the process at once, removing the partial bundle (cli/interrupt.ts).
        const outcome = await buildBundle({
          buildDefinitionFile: options.buildDefinitionFile,
          outputDirectory: options.outputDirectory,
          overwrite: options.force,
          rewrites: options.urlRewrite,
          download: { retries },
          images: {
            mirrors: new Map(options.registryMirror),
            insecure: new Set(options.insecureRegistry),
            credentials,
            platforms,
            localSources: new Map(options.imageSource),
          },
          reporter: buildReporter(output),
          strictImages: options.strictImages,
          ...(signingKey ? { signingKey } : {}),
        });
        output.result(`Created DC/OS Universe Package ${outcome.path}`, { name: outcome.path });
      }),
    );
}

function buildReporter(output: CliOutput): BuildReporter {
  const progress = createByteProgress(output);
  return {
    pulling(image, total) {
      output.info(`Pulling ${image}`);
      progress.start('  ', total);
    },
    fetching(url) {
      output.info(`Fetching ${url}`);
      progress.start('  ', undefined);
    },
    progress(received, total) {
      progress.update(received, total);
    },
    fetched() {
      progress.stop();
    },
    retrying(url, attempt, reason) {
      progress.stop();
      output.warn(`retrying ${url} (attempt ${attempt + 1}): ${reason}`);
    },
    unresolvedImage(unresolved) {
      output.warn(`image not bundled: ${describeUnresolvedImage(unresolved)} (an app that runs it pulls from outside the registry; --strict-images refuses such a package)`);
    },
  };
}

