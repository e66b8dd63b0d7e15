/**
 * Drift corrections for DiLoCo under non-i.i.d. (label-skewed) shards: one `DriftCorrection`
 * interface (types.ts), SCAFFOLD on AdamW (scaffold.ts) and FedProx (fedprox.ts).
 * Measurements and the choice of default: docs/drift-correction.md.
 */
import { AgoraError } from '../../../errors.ts';
import { ComposedDrift } from './compose.ts';
import { EtfHead } from './etf-head.ts';
import { FedDyn } from './feddyn.ts';
import { FedProx } from './fedprox.ts';
import { FixedHead } from './fixed-head.ts';
import { LogitAdjustment } from './logit-adjust.ts';
import { Scaffold } from './scaffold.ts';
import type { DriftCorrection } from './types.ts';

export { ComposedDrift } from './compose.ts';
export { applyEtfHead, EtfHead, type EtfHeadOptions, etfHeadWeights } from './etf-head.ts';
export { FedDyn, type FedDynOptions } from './feddyn.ts';
export { FedProx } from './fedprox.ts';
export { FixedHead, fixedHeadFlags } from './fixed-head.ts';
export {
  calibrateLdaHead,
  LDA_RIDGE,
  type LdaCalibration,
  ldaClassMeans,
  ldaClassStats,
  ldaClassStatsLength,
  ldaHead,
  ldaScatter,
  mlpFeatures,
  packedLength,
} from './lda-head.ts';
export { LogitAdjustment, type LogitAdjustmentOptions, logitAdjustmentOffsets } from './logit-adjust.ts';
export { Scaffold, type ScaffoldOptions } from './scaffold.ts';
export { clearCorrections, type DriftContext, type DriftCorrection } from './types.ts';

export const DRIFT_NAMES = [
  'none',
  'scaffold',
  'scaffold-upd',
  'scaffold-upd-explicit',
  'fedprox',
  'scaffold+fedprox',
  'logit-adjust',
  'logit-adjust+scaffold',
  'logit-adjust+fedprox',
  'fixed-head',
  'fixed-head+logit-adjust',
  'fixed-head+scaffold',
  'fixed-head+scaffold+fedprox',
  'fixed-head+fedprox',
  'fixed-head+feddyn',
  'feddyn',
  'etf-head',
  'etf-head+scaffold',
] as const;
export type DriftName = (typeof DRIFT_NAMES)[number];

/**
 * Builds a drift correction by name ('none' → undefined): 'scaffold' (gradient space, variate
 * deltas sent and counted), 'scaffold-upd' (AdamW update space, implicit variates, no extra bytes),
 * 'scaffold-upd-explicit' (update space, variate deltas sent), 'fedprox' (opts.mu, default 0.01),
 * 'scaffold+fedprox' (both), 'logit-adjust' (opts.tau, default 1; opts.eps, default 1e-3; no
 * extra bytes), 'logit-adjust+scaffold', 'logit-adjust+fedprox', 'fixed-head' (output layer frozen at
 * its init; no extra bytes), 'fixed-head+logit-adjust', 'fixed-head+scaffold' (variates sent every
 * opts.every-th round, default 1), 'fixed-head+scaffold+fedprox', 'fixed-head+fedprox', 'feddyn' / 'fixed-head+feddyn' (opts.alpha,
 * default 0.01; no extra bytes), 'etf-head' (simplex-ETF head of norm
 * opts.headScale, default 1, over opts.headFeatures inputs, fixed), 'etf-head+scaffold' (the ETF head
 * plus gradient-space SCAFFOLD, variates sent every opts.every-th round).
 */
export function createDriftCorrection(
  name: string,
  opts: {
    mu?: number;
    strength?: number;
    variateSteps?: number;
    tau?: number;
    eps?: number;
    every?: number;
    alpha?: number;
    headFeatures?: number;
    headScale?: number;
  } = {},
): DriftCorrection | undefined {
  const la = () => new LogitAdjustment({ tau: opts.tau, eps: opts.eps });
  const scaffold = () =>
    new Scaffold({
      space: 'gradient',
      strength: opts.strength,
      variateSteps: opts.variateSteps,
      every: opts.every,
    });
  const etf = () => {
    if (opts.headFeatures === undefined) {
      throw new AgoraError('DRIFT_BAD_CONFIG', `${name} needs headFeatures (the last hidden width).`);
    }
    return new EtfHead({ features: opts.headFeatures, scale: opts.headScale });
  };
  switch (name) {
    case 'none':
      return undefined;
    case 'scaffold':
      return scaffold();
    case 'scaffold-upd':
      return new Scaffold({ space: 'update', mode: 'implicit', strength: opts.strength });
    case 'scaffold-upd-explicit':
      return new Scaffold({ space: 'update', mode: 'explicit', strength: opts.strength });
    case 'fedprox':
      return new FedProx({ mu: opts.mu ?? 0.01 });
    case 'scaffold+fedprox':
      return new ComposedDrift([
        new Scaffold({ space: 'gradient', strength: opts.strength, variateSteps: opts.variateSteps }),
        new FedProx({ mu: opts.mu ?? 0.01 }),
      ]);
    case 'logit-adjust':
      return la();
    case 'logit-adjust+scaffold':
      return new ComposedDrift([
        la(),
        new Scaffold({ space: 'gradient', strength: opts.strength, variateSteps: opts.variateSteps }),
      ]);
    case 'fixed-head':
      return new FixedHead();
    case 'fixed-head+logit-adjust':
      return new ComposedDrift([new FixedHead(), la()]);
    case 'fixed-head+scaffold':
      return new ComposedDrift([new FixedHead(), scaffold()]);
    case 'fixed-head+scaffold+fedprox':
      return new ComposedDrift([new FixedHead(), scaffold(), new FedProx({ mu: opts.mu ?? 0.01 })]);
    case 'fixed-head+fedprox':
      return new ComposedDrift([new FixedHead(), new FedProx({ mu: opts.mu ?? 0.01 })]);
    case 'feddyn':
      return new FedDyn({ alpha: opts.alpha });
    case 'fixed-head+feddyn':
      return new ComposedDrift([new FixedHead(), new FedDyn({ alpha: opts.alpha })]);
    case 'etf-head':
      return etf();
    case 'etf-head+scaffold':
      return new ComposedDrift([etf(), scaffold()]);
    case 'logit-adjust+fedprox':
      return new ComposedDrift([la(), new FedProx({ mu: opts.mu ?? 0.01 })]);
    default:
      throw new AgoraError('DRIFT_UNKNOWN', `Unknown drift correction "${name}".`, {
        hint: `use one of ${DRIFT_NAMES.join(', ')}`,
      });
  }
}

/**
 * SCAFFOLD (gradient space) only beat plain DiLoCo up to this many inner steps per round in our
 * measurements (docs/drift-correction.md); the default no longer uses it.
 */
export const MAX_CORRECTED_INNER_STEPS = 100;

/**
 * The drift correction a new job should use (a fresh instance per run), or undefined for none.
 * Classification (peers' shards are label-skewed in practice): `FixedHead` (the output layer keeps
 * its seeded init; zero extra bytes, purely local, any H). Measured on MNIST 784-512-512-10, K = 8,
 * DiLoCo H = 100 with int4 pseudo-gradients (711× fewer bytes than DDP):
 *  - McMahan's label-sorted split (2 pieces per worker, 2–4 classes): 0.961 vs 0.947 plain (DDP 0.966);
 *  - 2 disjoint classes per worker: 0.887 vs 0.729 plain (DDP 0.970);
 *  - i.i.d. shards: about 0.5 points below plain DiLoCo (3 seeds, paired on 1,000 eval samples;
 *    docs/drift-correction.md).
 * Language models: none (contiguous text shards are close to i.i.d.; not measured).
 * `opts.innerSteps` is accepted for compatibility; the choice no longer depends on it.
 */
export function defaultDriftCorrection(
  kind: 'classification' | 'lm',
  _opts: { innerSteps?: number } = {},
): DriftCorrection | undefined {
  if (kind !== 'classification') return undefined;
  return new FixedHead();
}
