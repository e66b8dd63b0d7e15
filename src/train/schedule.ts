/**
 * The inner learning-rate schedule of `InnerOptimizerConfig` (src/train/runtime.ts): linear warmup
 * then cosine decay to `minLrRatio·lr`.
 *
 *   step < warmupSteps:  lr · (step + 1) / warmupSteps
 *   otherwise:           lr · (r + (1 − r) · ½(1 + cos(π · min(1, (step − warmupSteps) / totalSteps))))
 *
 * where r = minLrRatio and `step` is the 0-based index of the optimizer step being taken.
 * After warmup + totalSteps the lr stays at r·lr.
 */
import type { InnerOptimizerConfig } from './runtime.ts';

export function lrAt(
  step: number,
  cfg: Pick<InnerOptimizerConfig, 'lr' | 'warmupSteps' | 'totalSteps' | 'minLrRatio'>,
): number {
  if (cfg.warmupSteps > 0 && step < cfg.warmupSteps) return (cfg.lr * (step + 1)) / cfg.warmupSteps;
  const t = cfg.totalSteps > 0 ? Math.min(1, (step - cfg.warmupSteps) / cfg.totalSteps) : 1;
  const r = cfg.minLrRatio;
  return cfg.lr * (r + (1 - r) * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/** AdamW defaults for small tasks (β1 0.9, β2 0.999, eps 1e-8, no weight decay, no clipping, no warmup, floor 0.1·lr). */
export function innerConfig(
  over: Partial<InnerOptimizerConfig> & { lr: number; totalSteps: number },
): InnerOptimizerConfig {
  return {
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    clipNorm: 0,
    warmupSteps: 0,
    minLrRatio: 0.1,
    ...over,
  };
}
