/**
 * Gas of the PaymentChannels operations (gasUsed from receipts). `bench/gas.ts` imports
 * `measureChannelGas` and merges its rows; run standalone it starts an embedded chain, deploys a token and
 * PaymentChannels, and prints JSON: `npx node bench/gas-channels.ts [--json FILE]`.
 * Target: channel.settle < 100k.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type Account, type Address, getAddress, type LocalAccount, parseEther } from 'viem';
import { AgoraToken } from '../artifacts/index.ts';
import { type ChainConnection, connectChain, walletClientFor } from '../src/chain/connect.ts';
import { deployContract } from '../src/chain/deploy-contract.ts';
import type { Deployment } from '../src/chain/deployments.ts';
import { devnetAccount } from '../src/chain/devnet.ts';
import { startEmbeddedChain } from '../src/chain/embedded-chain.ts';
import { ChannelClient } from '../src/pay/channel-client.ts';
import { deployPaymentChannels } from '../src/pay/deploy-channels.ts';
import { signCloseConsent, signVoucher } from '../src/pay/voucher.ts';

export type GasRows = Record<string, { gas: number }>;

function local(a: Account, i: number): LocalAccount {
  if (a.type !== 'local')
    throw new Error(`measureChannelGas: accounts[${i}] must be a local account (it signs vouchers)`);
  return a;
}

/**
 * Measures open, topUp, settle (first and repeat), startClose, withdraw and cooperativeClose.
 * Uses accounts[1] as sender and accounts[2] as recipient, paying in deployment's AgoraToken; deploys a
 * PaymentChannels instance first when the deployment has none.
 */
export async function measureChannelGas(ctx: {
  conn: ChainConnection;
  deployment: Deployment;
  accounts: Account[];
}): Promise<GasRows> {
  const { conn, deployment } = ctx;
  const sender = local(ctx.accounts[1], 1);
  const recipient = local(ctx.accounts[2], 2);
  const token = deployment.contracts.AgoraToken;
  if (!token) throw new Error('measureChannelGas: the deployment has no AgoraToken');
  const address: Address =
    deployment.contracts.PaymentChannels ??
    (await deployPaymentChannels(conn, ctx.accounts[0], {
      bounds: { min: 60, max: 86_400, default: 3_600 },
    }));
  const s = new ChannelClient(conn, address, sender);
  const r = s.as(recipient);
  const amount = parseEther('100');
  const rows: GasRows = {};
  const row = (name: string, gas: bigint) => {
    rows[name] = { gas: Number(gas) };
  };

  await s.ensureAllowance(token, amount * 4n);
  const a = await s.open({
    recipient: recipient.address,
    token,
    amount,
    challengePeriod: 60,
    approve: false,
  });
  row('channel.open', a.gasUsed);
  row('channel.topUp', (await s.topUp(a.channelId, amount, { approve: false })).gasUsed);
  const v1 = await signVoucher(sender, s.domain, {
    channelId: a.channelId,
    cumulativeAmount: parseEther('1'),
  });
  row('channel.settle', (await r.settle(v1)).gasUsed);
  const v2 = await signVoucher(sender, s.domain, {
    channelId: a.channelId,
    cumulativeAmount: parseEther('2'),
  });
  row('channel.settle.repeat', (await r.settle(v2)).gasUsed);
  const consent = await signCloseConsent(sender, s.domain, {
    channelId: a.channelId,
    cumulativeAmount: parseEther('3'),
  });
  row('channel.cooperativeClose', (await r.cooperativeClose(a.channelId, parseEther('3'), consent)).gasUsed);

  const b = await s.open({
    recipient: recipient.address,
    token,
    amount,
    challengePeriod: 60,
    approve: false,
  });
  row('channel.startClose', (await s.startClose(b.channelId)).gasUsed);
  await conn.publicClient.request({ method: 'evm_increaseTime' as never, params: [61] as never });
  await conn.publicClient.request({ method: 'evm_mine' as never, params: [] as never });
  row('channel.withdraw', (await s.withdraw(b.channelId)).gasUsed);
  return rows;
}

async function main(): Promise<void> {
  const chain = await startEmbeddedChain();
  try {
    const conn = await connectChain({ provider: chain.provider });
    const accounts = [0, 1, 2].map((i) => devnetAccount(i));
    const token = getAddress(
      await deployContract(conn.publicClient, walletClientFor(conn, accounts[0]), AgoraToken, [
        accounts.map((a) => a.address),
        accounts.map(() => parseEther('1000000')),
      ]),
    );
    const deployment: Deployment = {
      chainId: conn.chainId,
      deployer: accounts[0].address,
      deployedAt: new Date().toISOString(),
      blockNumber: Number(await conn.publicClient.getBlockNumber()),
      contracts: { AgoraToken: token },
    };
    const rows = await measureChannelGas({ conn, deployment, accounts });
    const out = JSON.stringify(
      { bench: 'gas-channels', target: { 'channel.settle': 100_000 }, rows },
      null,
      2,
    );
    console.log(out);
    const i = process.argv.indexOf('--json');
    if (i > 0 && process.argv[i + 1]) writeFileSync(process.argv[i + 1], `${out}\n`);
    if (rows['channel.settle'].gas >= 100_000) process.exitCode = 1;
  } finally {
    await chain.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
