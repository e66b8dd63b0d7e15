/**
 * Gas of the protocol operations (gasUsed from receipts; estimateGas for views), with the protocol's gas
 * targets checked as pass/fail. Merges the payment engineer's channel.* rows from `bench/gas-channels.ts`
 * when that module exists.
 *
 * `npm run bench:gas -- [--json FILE]` → `{ "operations": { NAME: { "gas": N } }, "targets": { … } }`
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type Account, type Hex, keccak256, type LocalAccount, parseEther, toHex } from 'viem';
import { AgoraToken, DataRegistry } from '../artifacts/index.ts';
import { computeMarketClient } from '../src/chain/compute-market.ts';
import { connectChain, walletClientFor } from '../src/chain/connect.ts';
import { dataRegistryClient } from '../src/chain/data-registry.ts';
import { deployProtocol } from '../src/chain/deploy.ts';
import type { Deployment } from '../src/chain/deployments.ts';
import { devnetAccount } from '../src/chain/devnet.ts';
import { startEmbeddedChain } from '../src/chain/embedded-chain.ts';
import { buildRewardTree, hashPair, recordLeaf } from '../src/chain/merkle.ts';
import { paramActions } from '../src/chain/protocol-params.ts';
import { roundRecordsTree } from '../src/chain/round-record.ts';
import { tokenClient } from '../src/chain/token.ts';
import { trainingLedgerClient } from '../src/chain/training-ledger.ts';
import { estimateTx } from '../src/chain/tx.ts';
import { governanceClient } from '../src/gov/governance.ts';
import { offerModel } from '../src/serve/discovery.ts';
import { TRANSFER_WITH_AUTHORIZATION_TYPES } from '../src/serve/exact-scheme.ts';
import { mnistMlpPreset } from '../src/task/presets.ts';
import { specBytes } from '../src/task/spec.ts';

type Rows = Record<string, { gas: number; note?: string }>;

const { values } = parseArgs({ options: { json: { type: 'string' } } });
const here = dirname(fileURLToPath(import.meta.url));
const h = (s: string): Hex => keccak256(toHex(s));

const chain = await startEmbeddedChain();
const conn = await connectChain({ provider: chain.provider });
const accounts: LocalAccount[] = Array.from({ length: 20 }, (_, i) => devnetAccount(i));
const signers = accounts.map((a) => walletClientFor(conn, a));
const deployment: Deployment = await deployProtocol(conn, accounts[0], {
  config: { validators: [accounts[19].address] },
});
const c = deployment.contracts;
const token = tokenClient(conn, c.AgoraToken!);
const registry = dataRegistryClient(conn, c.DataRegistry!);
const market = computeMarketClient(conn, c.ComputeMarket!);
const ledger = trainingLedgerClient(conn, c.TrainingLedger!);
const gov = governanceClient(conn, c.AgoraGovernor!);
const rows: Rows = {};
const row = (name: string, gas: bigint, note?: string) => {
  rows[name] = note ? { gas: Number(gas), note } : { gas: Number(gas) };
};

// token
row('token.transfer', (await token.transfer(signers[1], accounts[2].address, parseEther('1'))).gasUsed);
// EIP-3009 (x402 `exact`): a signed transfer submitted by the payee.
{
  const now = BigInt((await conn.publicClient.getBlock()).timestamp);
  const msg = {
    from: accounts[1].address,
    to: accounts[2].address,
    value: parseEther('1'),
    validAfter: 0n,
    validBefore: now + 3600n,
    nonce: h('gas-eip3009'),
  };
  const signature = await accounts[1].signTypedData({
    domain: { name: 'Agora', version: '1', chainId: conn.chainId, verifyingContract: c.AgoraToken! },
    types: TRANSFER_WITH_AUTHORIZATION_TYPES,
    primaryType: 'TransferWithAuthorization',
    message: msg,
  });
  const hash = await signers[2].writeContract({
    address: c.AgoraToken!,
    abi: AgoraToken.abi,
    functionName: 'transferWithAuthorization',
    args: [msg.from, msg.to, msg.value, msg.validAfter, msg.validBefore, msg.nonce, signature],
  });
  const r = await conn.publicClient.waitForTransactionReceipt({ hash });
  row('token.transferWithAuthorization', r.gasUsed, 'EIP-3009, x402 exact (submitted by the payee)');
}
// model discovery: a seller's on-chain offer of a model's predictions (an event, nothing stored).
{
  const tx = await offerModel(conn, signers[3], c.ModelRevenue!, {
    modelHash: h('gas-model'),
    jobId: '1',
    unitPrice: parseEther('0.001'),
    endpoint: 'https://models.example.org:8402',
  });
  const r = await conn.publicClient.getTransactionReceipt({ hash: tx });
  row('modelRevenue.offer', r.gasUsed, 'agora serve --offer, 31-byte endpoint (an event only)');
}

// data registry: first registration interns the (licence, sector) pair; a contributor's first dataset
// and a returning contributor's cost the same (no per-contributor state, no nonce).
const ds = (i: number, root: Hex) => ({
  root,
  records: 1_000_000n,
  bytes: 10_000_000n,
  licence: 'CC-BY-4.0',
  sector: 'vision',
  manifestHash: h(`manifest${i}`),
});
row(
  'data.registerNewTerms',
  (await registry.signAndRegister(accounts[11], signers[0], ds(0, h('root0')))).receipt.gasUsed,
  'first dataset ever with this (licence, sector) pair; one-time interning',
);
row(
  'data.registerFirstByContributor',
  (await registry.signAndRegister(accounts[12], signers[0], ds(1, h('root1')))).receipt.gasUsed,
  "contributor's first dataset, known terms (no per-contributor slot: same as a returning one)",
);
row(
  'data.register',
  (await registry.signAndRegister(accounts[11], signers[0], ds(2, h('root2')))).receipt.gasUsed,
  'returning contributor, known terms; independent of the record count',
);
// verifyRecord with a 20-level proof (a 1M-record dataset): synthesize a valid depth-20 path.
const leaf = recordLeaf(123_456n, h('content'));
const proof: Hex[] = Array.from({ length: 20 }, (_, i) => h(`sibling${i}`));
const root20 = proof.reduce((acc, p) => hashPair(acc, p), leaf);
const big = await registry.signAndRegister(accounts[11], signers[0], {
  ...ds(3, root20),
  records: 1n << 20n,
});
if (!(await registry.verifyRecord(big.datasetId, 123_456n, h('content'), proof)))
  throw new Error('proof did not verify');
row(
  'data.verifyRecord',
  await estimateTx(conn, accounts[5].address, {
    label: 'DataRegistry.verifyRecord',
    address: registry.address,
    abi: DataRegistry.abi,
    functionName: 'verifyRecord',
    args: [big.datasetId, 123_456n, h('content'), proof],
  }),
  'estimateGas of the call, 20-level proof (2^20 records)',
);

// market: 8 providers, one job of 8 workers
const workers = [1, 2, 3, 4, 5, 6, 7, 8];
for (const w of workers) await token.approve(signers[w], market.address, parseEther('1000'));
row(
  'market.registerProvider',
  (await market.registerProvider(signers[1], h('hw'), parseEther('1'), parseEther('300'))).gasUsed,
);
for (const w of workers.slice(1))
  await market.registerProvider(signers[w], h('hw'), parseEther('1'), parseEther('300'));
await token.approve(signers[10], market.address, parseEther('100000'));
const now = (await conn.publicClient.getBlock()).timestamp;
const created = await market.createJob(signers[10], {
  modelSpecHash: h('model'),
  datasetIds: [1n, 2n],
  workers: 8,
  innerSteps: 500,
  rounds: 10,
  pricePerRound: parseEther('1'),
  joinDeadline: now + 3600n,
  completionDeadline: now + 86_400n,
  challengePeriod: 600n,
});
row('market.createJob', created.receipt.gasUsed, '2 datasets, 8 workers, 10 rounds');
{
  // the job's spec document, published once per spec (keccak256 computed by the contract, bytes in the event)
  const spec = specBytes(mnistMlpPreset({ innerSteps: 10, rounds: 10 }));
  row(
    'market.publishJobSpec',
    (await market.publishJobSpec(signers[10], spec)).receipt.gasUsed,
    `the mnist-mlp preset's spec document, ${spec.byteLength} bytes`,
  );
}
const jobId = created.jobId;
row('market.joinJob', (await market.joinJob(signers[1], jobId)).gasUsed);
for (const w of workers.slice(1, 7)) await market.joinJob(signers[w], jobId);
row(
  'market.joinJobStarting',
  (await market.joinJob(signers[8], jobId)).gasUsed,
  'the K-th join: starts the job, pays the fee',
);

// ledger: commitRound with 8 workers, all 8 signing
const commitRound = async (round: bigint) => {
  const recs = workers.map((w) => ({
    jobId,
    round,
    worker: accounts[w].address,
    pseudoGradientHash: h(`pg${w}-${round}`),
    sampleRoot: h(`s${w}`),
    lossBefore: 2_000_000n,
    lossAfter: 1_800_000n,
    samples: 4096n,
  }));
  const recordsRoot = roundRecordsTree(recs).root;
  const modelHash = h(`model-${round}`);
  const sigs = await Promise.all(
    workers.map((w) => ledger.signRoundCommit(accounts[w], jobId, round, recordsRoot, modelHash)),
  );
  return ledger.commitRound(signers[0], jobId, round, recordsRoot, modelHash, sigs);
};
row('ledger.commitRound', (await commitRound(0n)).gasUsed, '8 workers, 8 signatures (first round)');
row('ledger.commitRoundNext', (await commitRound(1n)).gasUsed, '8 workers, 8 signatures (later round)');
for (let r = 2n; r < 10n; r++) await commitRound(r);
row('ledger.closeJob', (await ledger.closeJob(signers[0], jobId)).gasUsed);
const funded = (await ledger.getJobLedger(jobId)).funded;
const entries = [...workers, 11, 12, 19].map((i) => ({ account: accounts[i].address, amount: funded / 11n }));
const tree = buildRewardTree(entries);
const rsigs = await Promise.all(
  workers.map((w) => ledger.signRewardRoot(accounts[w], jobId, tree.root, tree.total)),
);
row(
  'ledger.postRewardRoot',
  (await ledger.postRewardRoot(signers[0], jobId, tree.root, tree.total, rsigs)).gasUsed,
  '8 signatures',
);
row(
  'ledger.claim',
  (await ledger.claimFromTree(signers[3], jobId, tree, accounts[3].address)).gasUsed,
  '11-leaf tree',
);

// governance
const actions = [paramActions.setMinStake(c.ProtocolParams!, parseEther('200'))];
const proposed = await gov.propose(signers[1], actions, 'raise the minimum stake');
row('gov.propose', proposed.receipt.gasUsed);
await chain.provider.request({ method: 'evm_increaseTime', params: [2] });
await chain.provider.request({ method: 'evm_mine', params: [] });
row(
  'gov.castVote',
  (await gov.castVote(signers[2], proposed.proposalId, 'for')).gasUsed,
  "the proposal's first vote (writes its tally slot)",
);
row(
  'gov.castVoteWithReason',
  (await gov.castVote(signers[3], proposed.proposalId, 'for', 'providers should have more at stake')).gasUsed,
  'a later vote (tally slot already written); 35-character reason, emitted in VoteCast, not stored',
);
await chain.provider.request({ method: 'evm_increaseTime', params: [121] });
await chain.provider.request({ method: 'evm_mine', params: [] });
row(
  'gov.queue',
  (await gov.queue(signers[4], actions, 'raise the minimum stake')).gasUsed,
  'one action; schedules it in the timelock',
);
await chain.provider.request({ method: 'evm_increaseTime', params: [31] });
await chain.provider.request({ method: 'evm_mine', params: [] });
row(
  'gov.execute',
  (await gov.execute(signers[4], actions, 'raise the minimum stake')).gasUsed,
  'one action (ProtocolParams.setMinStake) through the timelock',
);
row(
  'gov.delegate',
  (await token.delegate(signers[0], accounts[0].address)).gasUsed,
  "an account's first delegation (the devnet deployer holds 1M AGORA and no votes)",
);

// payment channels (payments engineer's module), when present
const channelsModule = join(here, 'gas-channels.ts');
let channelError: string | undefined;
if (existsSync(channelsModule)) {
  try {
    const mod = (await import(pathToFileURL(channelsModule).href)) as {
      measureChannelGas: (ctx: {
        conn: typeof conn;
        deployment: Deployment;
        accounts: Account[];
      }) => Promise<Rows>;
    };
    Object.assign(rows, await mod.measureChannelGas({ conn, deployment, accounts }));
  } catch (e) {
    channelError = (e as Error).message;
  }
}
// agent spending policy (AgentAccount)
Object.assign(
  rows,
  await (await import('./gas-agent.ts')).measureAgentAccountGas({ conn, deployment, accounts }),
);
await chain.stop();

const targets: Record<string, { gas: number | null; limit: number; pass: boolean }> = {};
for (const [name, limit] of [
  ['data.register', 150_000],
  ['data.registerFirstByContributor', 150_000],
  ['ledger.commitRound', 250_000],
  ['channel.settle', 100_000],
] as const) {
  const gas = rows[name]?.gas ?? null;
  targets[`${name} < ${limit}`] = { gas, limit, pass: gas !== null && gas < limit };
}
const out = { operations: rows, targets, ...(channelError ? { channelError } : {}) };
const text = JSON.stringify(out, null, 2);
if (values.json) writeFileSync(values.json, `${text}\n`);
console.log(text);
