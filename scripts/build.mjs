// Bundles the CLI and the embedded server into single ES module files that need only Node.js:
// dist/cli/dcos-registry.mjs (the `dcos-registry` bin) and dist/server/registry.mjs (`npm start`).
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const shared = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  logLevel: 'warning',
  // Some CommonJS dependencies call require(); give the ES module bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
};
await Promise.all([
  build({ ...shared, entryPoints: ['lib/cli/main.ts'], outfile: 'dist/cli/dcos-registry.mjs' }),
  build({ ...shared, entryPoints: ['lib/server/main.ts'], outfile: 'dist/server/registry.mjs' }),
]);
await chmod('dist/cli/dcos-registry.mjs', 0o755);
