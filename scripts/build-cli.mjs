// Bundles the CLI into one ES module file (dist/cli/dcos-registry.mjs) that needs only Node.js.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const outfile = 'dist/cli/dcos-registry.mjs';
await build({
  entryPoints: ['lib/cli/main.ts'],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Some CommonJS dependencies call require(); give the ES module bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
await chmod(outfile, 0o755);
