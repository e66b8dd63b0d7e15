/**
 * The RPC error mapper (pure): the words of EDR, anvil and geth for each fault, as viem wraps them,
 * become one AgoraError kind each, and "Missing or invalid parameters" never reaches a user.
 */
import { InvalidInputRpcError, RpcRequestError, TransactionExecutionError } from 'viem';
import { describe, expect, it } from 'vitest';
import { gasLimitFor, joinJobWorstPathExtra, ranOutOfGas } from '../../src/chain/gas.ts';
import {
  classifyRpcError,
  nodeDetail,
  retryableBeforeSend,
  rpcErrorToAgoraError,
  type TxFaultKind,
} from '../../src/chain/rpc-errors.ts';
import { AgoraError } from '../../src/errors.ts';

/** An error as viem hands it back for a node reply `{ code, message }` (the HTTP transport's chain). */
function viemWrapped(code: number, message: string): Error {
  const rpc = new RpcRequestError({ body: {}, url: 'http://127.0.0.1:8545', error: { code, message } });
  const input = new InvalidInputRpcError(rpc);
  return new TransactionExecutionError(input, { account: undefined, chain: undefined } as never);
}

const CASES: [string, string, TxFaultKind][] = [
  [
    'EDR',
    "Sender doesn't have enough funds to send tx. The max upfront cost is: 1 and the sender's balance is: 0.",
    'no-funds',
  ],
  ['anvil', 'Insufficient funds for gas * price + value', 'no-funds'],
  ['geth', 'insufficient funds for gas * price + value: address 0x01 have 0 want 1', 'no-funds'],
  [
    'EDR',
    "Nonce too low. Expected nonce to be 2 but got 0. Note that transactions can't be queued when automining.",
    'nonce-too-low',
  ],
  ['anvil', 'nonce too low', 'nonce-too-low'],
  ['geth', 'nonce too high', 'nonce-too-high'],
  ['geth', 'replacement transaction underpriced', 'underpriced'],
  [
    'EDR',
    'Replacement transaction underpriced. A gasPrice/maxFeePerGas of at least 2 is necessary to replace the existing transaction with nonce 3.',
    'underpriced',
  ],
  ['geth', 'already known', 'already-known'],
  [
    'geth',
    'max fee per gas less than block base fee: address 0x01, maxFeePerGas: 1 baseFee: 7',
    'fee-too-low',
  ],
  ['EDR', 'Transaction ran out of gas', 'out-of-gas'],
  ['geth', 'not enough gas for reentrancy sentry', 'out-of-gas'],
  ['geth', 'gas required exceeds allowance (30000)', 'out-of-gas'],
  ['EDR', 'Transaction requires at least 21572 gas but got 20000', 'intrinsic-gas'],
  ['anvil', 'intrinsic gas too low', 'intrinsic-gas'],
  [
    'EDR',
    'Trying to send a raw transaction with an invalid chainId. The expected chainId is 31337',
    'wrong-chain',
  ],
  ['anvil', 'invalid chain id for signer', 'wrong-chain'],
  ['anvil', 'execution reverted: custom error 0xe450d38c: 00', 'reverted'],
  ['geth', 'exceeds block gas limit', 'gas-limit-too-high'],
];

describe('classifyRpcError', () => {
  it.each(CASES)('%s: "%s" is %s', (_node, message, kind) => {
    const e = viemWrapped(-32000, message);
    expect(classifyRpcError(e).kind).toBe(kind);
    expect(nodeDetail(e)).toBe(message.split('\n')[0]);
    const a = rpcErrorToAgoraError(e, { label: 'ComputeMarket.joinJob', from: '0xabc', chainId: 31337 });
    expect(a).toBeInstanceOf(AgoraError);
    expect(a.message).not.toMatch(/missing or invalid parameters/i);
    expect(a.message).toContain(message.split('\n')[0].slice(0, 40));
    expect(a.hint).toBeTruthy();
  });

  it('says who has no ETH for gas, on which chain, and on the devnet what to run', () => {
    const e = viemWrapped(-32003, 'Insufficient funds for gas * price + value');
    const a = rpcErrorToAgoraError(e, { label: 'AgoraToken.delegate', from: '0x1234', chainId: 31337 });
    expect(a.code).toBe('CHAIN_NO_FUNDS');
    expect(a.message).toMatch(/^0x1234 has no ETH for gas on chain 31337/);
    expect(a.hint).toContain('agora wallet fund 0x1234');
    const b = rpcErrorToAgoraError(e, { label: 'x', from: '0x1234', chainId: 8453 });
    expect(b.hint).not.toContain('wallet fund');
  });

  it('names an unreachable node and passes AgoraErrors through', () => {
    const e = Object.assign(new Error('fetch failed'), {
      cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' },
    });
    expect(classifyRpcError(e).kind).toBe('unreachable');
    const a = rpcErrorToAgoraError(e, { label: 'read', endpoint: 'http://127.0.0.1:1' });
    expect(a.code).toBe('CHAIN_UNREACHABLE');
    expect(a.message).toContain('http://127.0.0.1:1');
    const mine = new AgoraError('X', 'y');
    expect(rpcErrorToAgoraError(mine, { label: 'z' })).toBe(mine);
  });

  it('keeps an unknown fault unknown, with the node words, not the wrapper', () => {
    const e = viemWrapped(-32000, 'something odd happened');
    const f = classifyRpcError(e);
    expect(f).toEqual({ kind: 'unknown', detail: 'something odd happened' });
    expect(rpcErrorToAgoraError(e, { label: 'L' }).code).toBe('CHAIN_TX_FAILED');
  });

  it('retries before the send only what is safe to prepare again', () => {
    expect(retryableBeforeSend('nonce-too-low')).toBe(true);
    expect(retryableBeforeSend('underpriced')).toBe(true);
    expect(retryableBeforeSend('no-funds')).toBe(false);
    expect(retryableBeforeSend('reverted')).toBe(false);
    expect(retryableBeforeSend('wrong-chain')).toBe(false);
  });
});

describe('gas policy', () => {
  it('covers the join that starts a job with the estimate of a plain join (measured: 129,024 / 184,711)', () => {
    expect(gasLimitFor(129_024n, { extra: joinJobWorstPathExtra(3) })).toBeGreaterThan(184_711n);
    // without the worst-path extra the margin alone would not (the bug of issue 22)
    expect(129_024n + (129_024n * 30n) / 100n).toBeLessThan(184_711n);
  });
  it('never asks for more than the block gas limit, and floors the margin', () => {
    expect(gasLimitFor(29_000_000n, { cap: 30_000_000n })).toBe(30_000_000n);
    expect(gasLimitFor(21_000n)).toBe(61_000n);
  });
  it('tells an out-of-gas revert from a revert with a reason', () => {
    expect(ranOutOfGas(100_000n, 100_000n)).toBe(true);
    expect(ranOutOfGas(98_500n, 100_000n)).toBe(true);
    expect(ranOutOfGas(60_000n, 100_000n)).toBe(false);
  });
});
