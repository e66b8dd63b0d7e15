/**
 * `agora wallet balance|fund` and `agora token transfer`: what a wallet holds and moving AGORA.
 * Thin: resolve names (contacts), call src/wallet, print.
 */
import type { Command } from 'commander';
import { type Address, formatEther } from 'viem';
import type { ChainConnection } from '../../chain/connect.ts';
import { walletClientFor } from '../../chain/connect.ts';
import { type Deployment, readDeployment } from '../../chain/deployments.ts';
import { devnetAccount } from '../../chain/devnet.ts';
import { formatAmount, parseAmount } from '../../wallet/amount.ts';
import { type WalletBalance, walletBalance } from '../../wallet/balance.ts';
import { labelOf, resolveAddress } from '../../wallet/contacts.ts';
import { fundFromDevnet } from '../../wallet/fund.ts';
import { transferAgora } from '../../wallet/transfer.ts';
import { findWallet } from '../../wallet/wallet-store.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

/** The signer's address without unlocking it: --devnet-account N, else the home's wallet. */
export function defaultAddress(c: CliContext): Address {
  if (c.opts.devnetAccount !== undefined) return devnetAccount(Number(c.opts.devnetAccount)).address;
  return findWallet(c.home, c.opts.wallet).address;
}

/** The recorded deployment when its token still has code on the chain, else undefined. */
export async function liveDeployment(c: CliContext, conn: ChainConnection): Promise<Deployment | undefined> {
  const d = readDeployment(c.home, conn.chainId);
  if (!d?.contracts.AgoraToken) return undefined;
  const code = await conn.publicClient.getCode({ address: d.contracts.AgoraToken });
  return code && code !== '0x' ? d : undefined;
}

export function balanceJson(b: WalletBalance): Record<string, unknown> {
  return {
    chainId: b.chainId,
    address: b.address,
    eth: formatEther(b.eth),
    agora: formatEther(b.agora),
    votes: formatEther(b.votes),
    delegate: b.delegate,
    stake: b.stake && {
      stake: formatEther(b.stake.stake),
      locked: formatEther(b.stake.locked),
      active: b.stake.active,
    },
    claimable: b.claimable.map((x) => ({ jobId: x.jobId, amount: formatEther(x.amount) })),
    channels: b.channels.map((x) => ({
      ...x,
      deposit: formatEther(x.deposit),
      paid: formatEther(x.paid),
    })),
  };
}

export function balanceText(b: WalletBalance, label: string): string {
  const lines = [
    `${label} on chain ${b.chainId}`,
    `  ETH    ${formatEther(b.eth)}`,
    `  AGORA  ${formatEther(b.agora)} (votes ${formatEther(b.votes)}${b.delegate ? `, delegated to ${b.delegate}` : ', not delegated'})`,
  ];
  if (b.stake) {
    lines.push(
      `  stake  ${formatEther(b.stake.stake)} AGORA (${formatEther(b.stake.locked)} locked in jobs${b.stake.active ? ', offering compute' : ''})`,
    );
  }
  for (const x of b.claimable) lines.push(`  claimable: ${formatAmount(x.amount)} from job ${x.jobId}`);
  for (const ch of b.channels) {
    lines.push(
      `  channel ${ch.channelId.slice(0, 10)}… ${ch.role === 'sender' ? 'to' : 'from'} ${ch.counterparty}: ${formatEther(ch.paid)}/${formatEther(ch.deposit)} paid${ch.closesAt ? ', closing' : ''}`,
    );
  }
  if (b.eth === 0n)
    lines.push(b.chainId === 31337 ? 'no ETH for gas: run `agora wallet fund`' : 'no ETH for gas');
  return lines.join('\n');
}

export function registerWalletMoneyCommands(program: Command, ctx: Ctx): void {
  const wallet = program.commands.find((x) => x.name() === 'wallet');
  if (!wallet) throw new Error('register the wallet commands first');

  wallet
    .command('balance')
    .argument('[address]', 'address or contact name (default: your wallet)')
    .description('ETH, AGORA, voting power, stake, claimable rewards and open payment channels')
    .action(async (address: string | undefined, _o, cmd: Command) => {
      const c = ctx(cmd);
      const who = address ? resolveAddress(c.home, address) : { address: defaultAddress(c) };
      const conn = await c.connect();
      const b = await walletBalance(conn, await liveDeployment(c, conn), c.home, who.address);
      c.out.result(balanceJson(b), () => balanceText(b, labelOf(who)));
    });

  wallet
    .command('fund')
    .argument('[address]', 'address or contact name (default: your wallet)')
    .option('--eth <amount>', 'ETH to send for gas', '10')
    .option('--agora <amount>', 'AGORA to send', '1000')
    .description('devnet only: send ETH (for gas) and AGORA from a devnet account')
    .action(async (address: string | undefined, o: { eth: string; agora: string }, cmd: Command) => {
      const c = ctx(cmd);
      const who = address ? resolveAddress(c.home, address) : { address: defaultAddress(c) };
      const eth = o.eth === '0' ? 0n : parseAmount(o.eth, 'ETH');
      const agora = o.agora === '0' ? 0n : parseAmount(o.agora);
      const conn = await c.connect();
      const r = await fundFromDevnet(conn, await liveDeployment(c, conn), who.address, { eth, agora });
      c.out.result(
        { ...r, eth: formatEther(r.eth), agora: formatEther(r.agora) },
        () =>
          `sent ${formatAmount(r.eth, 'ETH')} and ${formatAmount(r.agora)} to ${labelOf(who)} from devnet account ${r.from}`,
      );
    });

  const token = program.command('token').description('the AGORA token');
  token
    .command('transfer')
    .argument('<to>', 'recipient: address or contact name')
    .argument('<amount>', 'AGORA, e.g. 12.5')
    .description('send AGORA from your wallet')
    .action(async (to: string, amount: string, _o, cmd: Command) => {
      const c = ctx(cmd);
      const who = resolveAddress(c.home, to);
      const wei = parseAmount(amount);
      const conn = await c.connect();
      const d = await c.deployment(conn, ['AgoraToken']);
      const signer = walletClientFor(conn, await c.signer(conn));
      c.out.progress(`sending ${formatAmount(wei)} to ${labelOf(who)}…`);
      const r = await transferAgora(conn, d.contracts.AgoraToken!, signer, who.address, wei);
      c.out.result(
        {
          from: r.from,
          to: r.to,
          toName: who.name ?? null,
          amount: formatEther(r.amount),
          txHash: r.txHash,
          balanceAfter: formatEther(r.balanceAfter),
        },
        () =>
          `sent ${formatAmount(r.amount)} to ${labelOf(who)}\ntx ${r.txHash}\nbalance now ${formatAmount(r.balanceAfter)}`,
      );
    });
}
