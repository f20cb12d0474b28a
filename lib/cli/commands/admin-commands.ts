/** The maintenance half of the CLI (admin): fsck, reindex, gc and reconcile against a running registry. */
import type { Command } from 'commander';
import { RegistryError } from '../../domain/errors.ts';
import type { CommandRunner } from '../command-runner.ts';
import { clientFrom } from '../registry-client.ts';
import { withServerOptions } from './server-commands.ts';

interface Violation {
  type: string;
  message: string;
}

interface FsckReport {
  clean: boolean;
  repaired: boolean;
  checked: { records: number; indexEntries: number; files: number; tags: number };
  violations: Violation[];
  remaining?: Violation[];
}

export function registerAdminCommands(program: Command, run: CommandRunner): void {
  withServerOptions(program.command('fsck'))
    .description('Check every invariant of the stored state; with --repair, fix what can be fixed (exit 1 while violations remain)')
    .option('--repair', 're-publish, re-derive tags and index, reconcile stuck records, collect leftovers', false)
    .action((options: { url?: string; token?: string; json: boolean; repair: boolean }) =>
      run(options.json, async (output) => {
        const report = await clientFrom(options).request<FsckReport>('POST', '/v1/admin/fsck', { repair: options.repair });
        const lines = [
          `Checked ${report.checked.records} package record(s), ${report.checked.indexEntries} /repo entries, ${report.checked.files} stored file(s), ${report.checked.tags} tag(s)`,
          ...report.violations.map((violation) => `${violation.type}: ${violation.message}`),
        ];
        const remaining = report.repaired ? (report.remaining ?? []) : report.violations;
        if (report.clean) lines.push('Clean: no violation found');
        else if (report.repaired) lines.push(`Repaired ${report.violations.length - remaining.length} of ${report.violations.length}`, ...remaining.map((violation) => `still: ${violation.type}: ${violation.message}`));
        else lines.push(`${report.violations.length} violation(s); run with --repair to fix what can be fixed`);
        output.result(lines.join('\n'), report);
        if (remaining.length > 0) throw new RegistryError('FsckViolations', `${remaining.length} violation(s) remain`, { remaining: remaining.length });
      }),
    );

  for (const [name, description, path] of [
    ['reindex', 'Derive the published index (/repo) again from the package records and fragments', '/v1/admin/reindex'],
    ['gc', 'Collect garbage now: files no package uses (past the grace window) and leftovers of interrupted work', '/v1/admin/gc'],
    ['reconcile', 'Drive every upload and package stuck in a transient state to a final one', '/v1/admin/reconcile'],
  ] as const) {
    withServerOptions(program.command(name))
      .description(description)
      .action((options: { url?: string; token?: string; json: boolean }) =>
        run(options.json, async (output) => {
          const report = await clientFrom(options).request<Record<string, number>>('POST', path);
          output.result(`${name}: ${Object.entries(report).map(([key, value]) => `${key} ${value}`).join(', ')}`, report);
        }),
      );
  }
}
