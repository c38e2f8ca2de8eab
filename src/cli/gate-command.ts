/** `trainset gate recheck <model-version> --policy <file>`: replay a recorded gate decision under another policy. */
import type { Command } from '@commander-js/extra-typings';
import { readGatePolicyFile } from '../gate/policy';
import { GATE_OVERRIDE_ACTION, latestRecordedEvaluation, recheckGate, type GateRecheck } from '../gate/recheck';
import type { Registry } from '../registry';
import type { GateCheck, GateDecision, GatePolicy } from '../shared/types';
import { withBackends } from './operator-commands';

/** A recheck with what the registry knows about the version's overrides. */
export interface GateRecheckReport extends GateRecheck {
  model: string;
  version: number;
  /** Overrides ("bless anyway") recorded for this version: who, when, why. */
  overrides: Array<{ actor: string; at: string; reason: string }>;
}

/** Recheck a registered model version's recorded gate inputs under `policy`; throws when nothing was recorded. */
export async function recheckModelVersion(registry: Registry, modelVersionId: string, policy: GatePolicy): Promise<GateRecheckReport> {
  const mv = await registry.models.getVersion(modelVersionId);
  if (!mv) throw new Error(`no model version ${modelVersionId} (see: npx trainset models list <dataset>)`);
  const audit = await registry.audit.list(modelVersionId);
  const recorded = latestRecordedEvaluation(modelVersionId, audit);
  if (!recorded) {
    throw new Error(
      `model version ${modelVersionId} has no recorded gate evaluation (it was never validated, or was validated before ` +
        'gate inputs were recorded); run the pipeline for its dataset version again to record one',
    );
  }
  const overrides = audit
    .filter((a) => a.action === GATE_OVERRIDE_ACTION)
    .map((a) => ({ actor: a.actor, at: a.at, reason: String(a.details.reason ?? '') }));
  return { ...recheckGate(recorded, policy), model: mv.model, version: mv.version, overrides };
}

const verdict = (d: GateDecision): string => `${d.passed ? 'PASS' : 'FAIL'} (${d.rule})`;
const checkLine = (c: GateCheck): string =>
  `    ${c.id}: ${c.value.toFixed(3)} vs limit ${c.limit.toFixed(3)}${c.baseline === undefined ? '' : ` (baseline ${c.baseline.toFixed(3)})`}`;

/** Human-readable lines of a recheck report. */
export function recheckLines(r: GateRecheckReport): string[] {
  const lines = [
    `${r.modelVersionId}  ${r.model} v${r.version}`,
    `  recorded   ${verdict(r.recorded)}`,
    ...r.recorded.reasons.map((x) => `    - ${x}`),
    `  rechecked  ${verdict(r.rechecked)}${r.verdictChanged ? '   ← verdict changes' : '   (same verdict)'}`,
    ...r.rechecked.reasons.map((x) => `    - ${x}`),
  ];
  if (r.newlyFailing.length > 0) lines.push('  newly failing', ...r.newlyFailing.map(checkLine));
  if (r.noLongerFailing.length > 0) lines.push('  no longer failing', ...r.noLongerFailing.map(checkLine));
  if ((r.rechecked.skipped ?? []).length > 0) lines.push('  not applied', ...r.rechecked.skipped!.map((s) => `    - ${s}`));
  for (const o of r.overrides) lines.push(`  override   by ${o.actor} at ${o.at}: ${o.reason}`);
  return lines;
}

/** Register the gate commands. */
export function registerGateCommands(program: Command): void {
  const gate = program.command('gate').description('The validation gate: re-evaluate recorded decisions under another policy');
  gate
    .command('recheck')
    .description("Apply a gate policy (a spec's `gates` section, or a whole spec; YAML or JSON) to a version's recorded gate inputs")
    .argument('<model-version>', 'model version id (see: npx trainset models list)')
    .requiredOption('--policy <file>', 'gate policy file')
    .option('--json', 'print JSON')
    .action(async (modelVersionId, opts) => {
      const policy = await readGatePolicyFile(opts.policy);
      await withBackends(async (b) => {
        const report = await recheckModelVersion(b.registry, modelVersionId, policy);
        console.log(opts.json ? JSON.stringify(report, null, 2) : recheckLines(report).join('\n'));
      });
    });
}
