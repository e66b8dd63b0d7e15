/**
 * What a provider offers: probed hardware, as a canonical descriptor and its keccak256 hash (the
 * `hardware descriptor hash` registered with the offer on ComputeMarket).
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { type Hex, keccak256, toBytes } from 'viem';

export type HardwareDescriptor = {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  platform: string;
  arch: string;
  node: string;
  /** Tensor engine and execution provider. */
  engine: string;
};

export function probeHardware(engine = 'onnxruntime-node/cpu'): HardwareDescriptor {
  const c = cpus();
  return {
    cpuModel: (c[0]?.model ?? 'unknown').trim(),
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    platform: process.platform,
    arch: process.arch,
    node: process.versions.node,
    engine,
  };
}

/** Canonical JSON (sorted keys) of the descriptor. */
export function canonicalHardwareJson(d: HardwareDescriptor): string {
  const sorted = Object.fromEntries(Object.entries(d).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify(sorted);
}

export function hardwareDescriptorHash(d: HardwareDescriptor): Hex {
  return keccak256(toBytes(canonicalHardwareJson(d)));
}
