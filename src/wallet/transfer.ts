/**
 * Sending AGORA from the signer's wallet, with the checks a person needs before anything moves:
 * a real recipient, enough AGORA, some ETH for gas.
 */
import { type Address, getAddress, type Hex, zeroAddress } from 'viem';
import type { ChainConnection } from '../chain/connect.ts';
import { tokenClient } from '../chain/token.ts';
import type { Signer } from '../chain/tx.ts';
import { AgoraError } from '../errors.ts';
import { formatAmount } from './amount.ts';

export type TransferResult = {
  from: Address;
  to: Address;
  amount: bigint;
  txHash: Hex;
  balanceAfter: bigint;
  gasUsed: bigint;
};

/** Throws a clear error when `account` has no ETH at all to pay gas with. */
export async function assertHasGas(conn: ChainConnection, account: Address): Promise<void> {
  const eth = await conn.publicClient.getBalance({ address: account });
  if (eth === 0n) {
    throw new AgoraError('NO_GAS', `${account} has no ETH for gas on chain ${conn.chainId}`, {
      hint:
        conn.chainId === 31337
          ? 'on the devnet run `agora wallet fund`'
          : 'send some ETH to this address first',
    });
  }
}

export async function transferAgora(
  conn: ChainConnection,
  token: Address,
  signer: Signer,
  to: Address,
  amount: bigint,
): Promise<TransferResult> {
  const from = signer.account.address;
  const recipient = getAddress(to);
  if (recipient === zeroAddress) {
    throw new AgoraError('BAD_ADDRESS', 'refusing to send AGORA to the zero address (it would be burnt)');
  }
  if (amount <= 0n) throw new AgoraError('BAD_AMOUNT', 'the amount must be more than 0');
  const t = tokenClient(conn, token);
  const balance = await t.balanceOf(from);
  if (balance < amount) {
    throw new AgoraError(
      'INSUFFICIENT_AGORA',
      `${from} holds ${formatAmount(balance)}, less than the ${formatAmount(amount)} to send; nothing was sent`,
      { hint: conn.chainId === 31337 ? 'on the devnet run `agora wallet fund`' : undefined },
    );
  }
  await assertHasGas(conn, from);
  const receipt = await t.transfer(signer, recipient, amount);
  return {
    from,
    to: recipient,
    amount,
    txHash: receipt.transactionHash,
    balanceAfter: await t.balanceOf(from),
    gasUsed: receipt.gasUsed,
  };
}
