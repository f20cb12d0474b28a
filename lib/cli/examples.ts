/** One example per command, shown after its `--help` (what an operator types most often). */
export const COMMAND_EXAMPLES: Readonly<Record<string, string>> = {
  migrate: 'dcos-registry migrate --package-directory=universe/repo/packages/H/hello-world/0 --output-directory=out',
  build: 'dcos-registry build --build-definition-file=out/hello-world-3.2.0-0.57.3.json --output-directory=out',
  add: 'DCOS_REGISTRY_URL=http://registry:8080 DCOS_REGISTRY_TOKEN=… dcos-registry add --dcos-file=out/hello-world-3.2.0-0.57.3.dcos --wait',
  describe: 'dcos-registry describe --package-name=hello-world --package-version=3.2.0-0.57.3',
  remove: 'dcos-registry remove --package-name=hello-world --package-version=3.2.0-0.57.3',
  list: 'dcos-registry list --package-name=hello-world --json',
  fsck: 'dcos-registry fsck --repair',
  reindex: 'dcos-registry reindex',
  gc: 'dcos-registry gc',
  reconcile: 'dcos-registry reconcile',
  config: 'dcos-registry config --options=options.json',
  activate: 'DCOS_URL=https://cluster DCOS_ACS_TOKEN=… dcos-registry activate --options=options.json',
  verify: 'dcos-registry verify --dcos-file=out/hello-world-3.2.0-0.57.3.dcos --key=keys/build.pub',
};
