/**
 * `key create` (an Ed25519 key pair for signing bundles) and `verify` (a bundle's signature,
 * offline): lib/signing/bundle-signature.ts has the format.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { readAndVerifyBundle } from '../../bundle/bundle-reader.ts';
import { FileByteSource } from '../../bundle/byte-source.ts';
import { RegistryError } from '../../domain/errors.ts';
import { checkBundleSignature, keyIdOf, newSigningKeyPair, trustedKeyFrom } from '../../signing/bundle-signature.ts';
import type { CommandRunner } from '../command-runner.ts';

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new RegistryError('InvalidOption', `${what}: cannot read ${path}: ${(error as Error).message}`, {});
  }
}

export function registerSigning(program: Command, run: CommandRunner): void {
  const key = program.command('key').description('Make keys that sign bundles');
  key
    .command('create')
    .description('Write a new Ed25519 key pair: <prefix>.key (private, keep it on the build machine) and <prefix>.pub')
    .requiredOption('--out <prefix>', 'path prefix of the two files')
    .option('--json', 'print the result as one JSON document', false)
    .addHelpText('after', '\nExample:\n  dcos-registry key create --out=keys/build\n  dcos-registry build … --sign-key=keys/build.key\n  REGISTRY_TRUSTED_KEYS=<the printed line> on the registry')
    .action((options: { out: string; json: boolean }) =>
      run(options.json, async (output) => {
        const pair = newSigningKeyPair();
        // wx: an existing key is never overwritten.
        try {
          await writeFile(`${options.out}.key`, pair.privateKeyPem, { mode: 0o600, flag: 'wx' });
          await writeFile(`${options.out}.pub`, pair.publicKeyPem, { flag: 'wx' });
        } catch (error) {
          throw new RegistryError('OutputExists', `Cannot write the key pair at ${options.out}.key/.pub: ${(error as Error).message}`, {});
        }
        output.result(
          [`Wrote ${options.out}.key (private) and ${options.out}.pub (public), key id ${pair.keyId}.`, 'Trust it on the registry with this line (REGISTRY_TRUSTED_KEYS, comma-separated, or registry.trusted-keys):', `  ${pair.line}`].join('\n'),
          { keyId: pair.keyId, privateKey: `${options.out}.key`, publicKey: `${options.out}.pub`, trustedKeyLine: pair.line },
        );
      }),
    );
  key.commands[0]!.exitOverride().configureOutput(program.configureOutput());

  program
    .command('verify')
    .description("Check a bundle offline: every file against its digest, and its signature (with --key, against that key)")
    .requiredOption('--dcos-file <file>', 'the bundle')
    .option('--key <file>', 'the public key it must be signed with (PEM, or a file holding the ed25519:… line)')
    .option('--json', 'print the result as one JSON document', false)
    .action((options: { dcosFile: string; key?: string; json: boolean }) =>
      run(options.json, async (output) => {
        const trusted = options.key ? [trustedKeyFrom((await readText(options.key, '--key')).trim())] : undefined;
        const source = await FileByteSource.open(options.dcosFile).catch((error: Error) => {
          throw new RegistryError('InvalidOption', `--dcos-file: cannot read ${options.dcosFile}: ${error.message}`, {});
        });
        try {
          const bundle = await readAndVerifyBundle(source);
          const check = checkBundleSignature(bundle.signatureEnvelope, bundle.signedContent, trusted, bundle);
          const { name, version } = bundle.signedContent;
          output.result(
            check.verified
              ? `${options.dcosFile}: ${name} ${version}, every file matches its digest, signed by key ${check.keyId}: the signature holds.`
              : `${options.dcosFile}: ${name} ${version}, every file matches its digest, signed by key ${check.keyId} (signature not checked: pass --key).`,
            { file: options.dcosFile, name, version, keyId: check.keyId, signatureVerified: check.verified, ...(trusted ? { expectedKeyId: keyIdOf(trusted[0]!) } : {}) },
          );
        } finally {
          await source.close();
        }
      }),
    );
}
