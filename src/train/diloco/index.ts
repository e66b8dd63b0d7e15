/** Simulated distributed training: DiLoCo, FedAvg and the DDP baseline, with exact byte counts. */
export { AllReduceSim, type AllReduceSimResult } from './allreduce-sim.ts';
export { ddpBytesPerStep, sliceBounds } from './bytes.ts';
export { type DdpConfig, runDdp } from './ddp.ts';
export { type DilocoConfig, evaluateParams, runDiloco, trainSteps } from './diloco.ts';
export {
  applyEtfHead,
  ComposedDrift,
  clearCorrections,
  createDriftCorrection,
  DRIFT_NAMES,
  type DriftContext,
  type DriftCorrection,
  type DriftName,
  defaultDriftCorrection,
  EtfHead,
  type EtfHeadOptions,
  etfHeadWeights,
  FedDyn,
  type FedDynOptions,
  FedProx,
  FixedHead,
  fixedHeadFlags,
  LogitAdjustment,
  type LogitAdjustmentOptions,
  logitAdjustmentOffsets,
  MAX_CORRECTED_INNER_STEPS,
  Scaffold,
  type ScaffoldOptions,
} from './drift/index.ts';
export { ErrorFeedbackCodec } from './error-feedback.ts';
export type { Method, RunPoint, RunResult, SimulationData } from './types.ts';
