/** Disk adapter for checkpoints: write atomically (temp file + rename), read, and hash. */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { AgoraError } from '../../errors.ts';
import { checkpointHash, type Hex32 } from './hash.ts';
import { decodeSafetensors, type SafetensorsFile } from './safetensors.ts';

export function writeCheckpointFile(path: string, bytes: Uint8Array): Hex32 {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
  return checkpointHash(bytes);
}

export function readCheckpointFile(path: string): { file: SafetensorsFile; bytes: Uint8Array; hash: Hex32 } {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new AgoraError('CHECKPOINT_UNREADABLE', `Cannot read checkpoint ${path}: ${(e as Error).message}`, {
      hint: 'Check the path.',
      cause: e,
    });
  }
  try {
    return { file: decodeSafetensors(bytes), bytes, hash: checkpointHash(bytes) };
  } catch (e) {
    if (e instanceof AgoraError) {
      throw new AgoraError(e.code, `${path}: ${e.message}`, { hint: e.hint, cause: e });
    }
    throw e;
  }
}
