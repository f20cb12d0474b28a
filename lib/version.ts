import packageJson from '../package.json' with { type: 'json' };

/** The product version, from package.json (bundled into the CLI by esbuild). */
export const PRODUCT_VERSION: string = packageJson.version;
export const BUILT_BY = `dcos-registry/${PRODUCT_VERSION}`;
