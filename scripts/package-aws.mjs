// `npm run package:aws`: the functions' zips and the CloudFormation template, offline (osls
// package), and then each function's source map beside its zip: the zips carry none (minified
// code alone loads fastest; the sourceMaps=beside default), the maps stay with the release for
// reading a stack trace later. Arguments go to `osls package` (default: --stage dev).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
if (!args.includes('--stage')) args.push('--stage', 'dev');
const packageIndex = args.indexOf('--package');
const output = packageIndex >= 0 ? args[packageIndex + 1] : join(root, '.serverless');
const packaged = spawnSync(process.execPath, [join(root, 'node_modules/osls/bin/serverless.js'), 'package', ...args], { cwd: root, stdio: 'inherit' });
if (packaged.status !== 0) process.exit(packaged.status ?? 1);
// serverless-esbuild's build folder (kept: keepOutputDirectory in serverless.yml).
const built = join(root, '.esbuild/.build/functions');
let copied = 0;
for (const file of existsSync(built) ? readdirSync(built) : []) {
  if (!file.endsWith('.mjs.map')) continue;
  const name = file.slice(0, -'.mjs.map'.length);
  copyFileSync(join(built, file), join(output, `${name}.mjs.map`));
  copied++;
}
process.stdout.write(`${copied} source maps beside the zips in ${output} (<function>.mjs.map, for functions/<function>.mjs in <function>.zip)\n`);
