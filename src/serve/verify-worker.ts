/** Worker thread of `VerifierPool`: checks batches of vouchers with its own cache of sender keys. */
import { parentPort } from 'node:worker_threads';
import type { Address, Hex } from 'viem';
import { SenderKeys } from './voucher-check.ts';

export type VerifyJob = {
  id: number;
  chainId: number;
  verifyingContract: Address;
  channelId: Hex;
  cumulativeAmount: string;
  signature: Hex;
  sender: Address;
};

const keys = new SenderKeys();
parentPort!.on('message', (jobs: VerifyJob[]) => {
  const results = jobs.map((j) => {
    try {
      return keys.verify({ ...j, cumulativeAmount: BigInt(j.cumulativeAmount) }, j.sender);
    } catch {
      return false;
    }
  });
  parentPort!.postMessage({ ids: jobs.map((j) => j.id), results });
});
