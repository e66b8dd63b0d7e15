/** `agora pay open|top-up|status|close|settle|withdraw`: payment channels, as payer and as payee. */
import type { Command } from 'commander';
import {
  type Address,
  erc20Abi,
  formatEther,
  getAddress,
  type Hex,
  isAddress,
  type LocalAccount,
  parseEther,
} from 'viem';
import type { ChainConnection } from '../../chain/connect.ts';
import { AgoraError } from '../../errors.ts';
import { ChannelClient } from '../../pay/channel-client.ts';
import { Payee } from '../../pay/payee.ts';
import { Payer } from '../../pay/payer.ts';
import type { VoucherStore } from '../../pay/voucher-store.ts';
import { openChannelStore } from '../../serve/service.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

/** A decimal AGORA amount ("0.5") in base units. */
export function amountOf(v: string, name: string): bigint {
  if (!/^[0-9]+(\.[0-9]{1,18})?$/.test(v)) {
    throw new AgoraError('BAD_OPTION', `${name} must be a decimal AGORA amount like 0.5, not "${v}"`);
  }
  return parseEther(v);
}

/** An address argument (contact names resolve here once the contacts book lands). */
export function resolveAddress(v: string, what: string): Address {
  if (!isAddress(v))
    throw new AgoraError('BAD_ADDRESS', `${what} "${v}" is not an address`, { hint: 'pass a 0x address' });
  return getAddress(v);
}

function channelIdOf(v: string): Hex {
  if (!/^0x[0-9a-fA-F]{64}$/.test(v)) {
    throw new AgoraError('BAD_OPTION', `"${v}" is not a channel id`, {
      hint: 'channel ids are 0x + 64 hex digits (agora pay status)',
    });
  }
  return v.toLowerCase() as Hex;
}

type Env = {
  c: CliContext;
  conn: ChainConnection;
  account: LocalAccount;
  client: ChannelClient;
  store: VoucherStore;
  token: Address;
};

async function env(c: CliContext): Promise<Env> {
  const conn = await c.connect();
  const d = await c.deployment(conn, ['PaymentChannels', 'AgoraToken']);
  const account = (await c.signer(conn)) as LocalAccount;
  return {
    c,
    conn,
    account,
    client: new ChannelClient(conn, d.contracts.PaymentChannels!, account),
    store: openChannelStore(c.home),
    token: d.contracts.AgoraToken!,
  };
}

async function balance(e: Env, who: Address, token = e.token): Promise<bigint> {
  return e.conn.publicClient.readContract({
    address: token,
    abi: erc20Abi,
    functionName: 'balanceOf',
    args: [who],
  });
}

const fmt = (x: bigint) => `${formatEther(x)} AGORA`;

export function registerPayCommands(program: Command, ctx: Ctx): void {
  const pay = program
    .command('pay')
    .description('payment channels: pay per query (payer) and get paid (payee)');

  pay
    .command('open')
    .argument('<recipient>', 'who you pay (address)')
    .argument('<amount>', 'deposit in AGORA')
    .option('--challenge-period <seconds>', 'challenge period (default: the contract default)')
    .description('open a channel to a recipient, escrowing a deposit (approves the token first)')
    .action(async (recipient: string, amount: string, o: { challengePeriod?: string }, cmd: Command) => {
      const e = await env(ctx(cmd));
      const r = await e.client.open({
        recipient: resolveAddress(recipient, 'recipient'),
        token: e.token,
        amount: amountOf(amount, 'amount'),
        ...(o.challengePeriod ? { challengePeriod: Number(o.challengePeriod) } : {}),
      });
      const ch = await new Payer({ store: e.store, account: e.account, domain: e.client.domain }).track(
        e.client,
        r.channelId,
      );
      e.c.out.result(
        { channelId: r.channelId, tx: r.hash, deposit: ch.deposit, challengePeriod: ch.challengePeriod },
        () =>
          [
            `opened channel ${r.channelId}`,
            `deposit ${fmt(ch.deposit)}, challenge period ${ch.challengePeriod} s (tx ${r.hash})`,
          ].join('\n'),
      );
    });

  pay
    .command('top-up')
    .argument('<channel>', 'channel id')
    .argument('<amount>', 'AGORA to add')
    .description('add to the deposit of a channel you pay through')
    .action(async (channel: string, amount: string, _o: unknown, cmd: Command) => {
      const e = await env(ctx(cmd));
      const id = channelIdOf(channel);
      const r = await e.client.topUp(id, amountOf(amount, 'amount'));
      const ch = await new Payer({ store: e.store, account: e.account, domain: e.client.domain }).track(
        e.client,
        id,
      );
      e.c.out.result(
        { channelId: id, tx: r.hash, deposit: ch.deposit },
        () => `deposit of ${id} is now ${fmt(ch.deposit)} (tx ${r.hash})`,
      );
    });

  pay
    .command('status')
    .argument('[channel]', 'one channel id (default: all channels of this wallet)')
    .description(
      'channels you pay through and are paid through: deposit, committed, received, settled, on-chain paid',
    )
    .action(async (channel: string | undefined, _o: unknown, cmd: Command) => {
      const e = await env(ctx(cmd));
      const me = e.account.address;
      const payer = new Payer({ store: e.store, account: e.account, domain: e.client.domain });
      const known = [
        ...e.store.listChannels({ sender: me }),
        ...e.store.listChannels({ recipient: me }),
      ].filter(
        (ch) =>
          ch.chainId === e.conn.chainId &&
          ch.contract === e.client.address &&
          (!channel || ch.channelId === channelIdOf(channel)),
      );
      if (channel && known.length === 0) {
        const s = await e.client.getChannel(channelIdOf(channel));
        if (s.exists && s.sender === me) known.push(await payer.track(e.client, s.channelId));
      }
      const now = Math.floor(Date.now() / 1000);
      const rows: {
        channelId: Hex;
        role: string;
        counterparty: Address;
        deposit: bigint;
        paidOnChain: bigint;
        committed?: bigint;
        remaining?: bigint;
        received?: bigint;
        unsettled?: bigint;
        state: string;
        closesAt: number;
      }[] = [];
      for (const ch of known) {
        const on = await e.client.getChannel(ch.channelId);
        const role = ch.sender === me ? 'payer' : 'payee';
        const sent = e.store.sent(ch)?.cumulative ?? 0n;
        const rec = e.store.received(ch);
        rows.push({
          channelId: ch.channelId,
          role,
          counterparty: role === 'payer' ? ch.recipient : ch.sender,
          deposit: on.deposit,
          paidOnChain: on.paid,
          ...(role === 'payer'
            ? { committed: sent, remaining: on.deposit - sent }
            : { received: rec?.cumulative ?? 0n, unsettled: (rec?.cumulative ?? 0n) - on.paid }),
          state: on.finalized
            ? 'finalized'
            : on.closesAt === 0
              ? 'open'
              : on.closesAt > now
                ? 'closing'
                : 'withdrawable',
          closesAt: on.closesAt,
        });
      }
      const wallet = await balance(e, me);
      e.c.out.result({ address: me, balance: wallet, channels: rows }, () =>
        [
          `${me}: ${fmt(wallet)} in the wallet`,
          ...(rows.length === 0 ? ['no channels'] : []),
          ...rows.map((r) =>
            r.role === 'payer'
              ? `payer ${r.channelId} → ${r.counterparty}  ${r.state}  deposit ${fmt(r.deposit)}  committed ${fmt(r.committed!)}  remaining ${fmt(r.remaining!)}  paid on-chain ${fmt(r.paidOnChain)}`
              : `payee ${r.channelId} ← ${r.counterparty}  ${r.state}  deposit ${fmt(r.deposit)}  received ${fmt(r.received!)}  settled ${fmt(r.paidOnChain)}  unsettled ${fmt(r.unsettled!)}`,
          ),
        ].join('\n'),
      );
    });

  pay
    .command('close')
    .argument('<channel>', 'channel id')
    .description('start closing a channel you pay through (withdraw the rest after the challenge period)')
    .action(async (channel: string, _o: unknown, cmd: Command) => {
      const e = await env(ctx(cmd));
      const id = channelIdOf(channel);
      const r = await e.client.startClose(id);
      const ch = await e.client.getChannel(id);
      e.store.recordChannel({
        ...(await new Payer({ store: e.store, account: e.account, domain: e.client.domain }).track(
          e.client,
          id,
        )),
      });
      e.c.out.result(
        { channelId: id, tx: r.hash, closesAt: ch.closesAt },
        () =>
          `closing ${id}: the payee can settle until ${new Date(ch.closesAt * 1000).toISOString()}; then \`agora pay withdraw ${id}\``,
      );
    });

  pay
    .command('withdraw')
    .argument('<channel>', 'channel id')
    .description('take back the unpaid deposit of a channel after its challenge period')
    .action(async (channel: string, _o: unknown, cmd: Command) => {
      const e = await env(ctx(cmd));
      const id = channelIdOf(channel);
      const before = await balance(e, e.account.address);
      const r = await e.client.withdraw(id);
      const after = await balance(e, e.account.address);
      e.c.out.result(
        { channelId: id, tx: r.hash, refunded: after - before, balance: after },
        () => `withdrew ${fmt(after - before)} from ${id}; wallet ${fmt(after)}`,
      );
    });

  pay
    .command('settle')
    .argument('[channel]', 'channel id (default: every channel paying you with unsettled vouchers)')
    .description('as payee: settle the highest stored voucher on-chain')
    .action(async (channel: string | undefined, _o: unknown, cmd: Command) => {
      const e = await env(ctx(cmd));
      const payee = new Payee({ store: e.store, client: e.client, settleThreshold: 1n });
      const ids = channel
        ? [channelIdOf(channel)]
        : payee
            .earnings()
            .filter((x) => x.unsettled > 0n)
            .map((x) => x.key.channelId);
      const before = await balance(e, e.account.address);
      const settled: { channelId: Hex; tx: Hex }[] = [];
      for (const id of ids) {
        const r = await payee.settle(id);
        if (r) settled.push({ channelId: id, tx: r.hash });
      }
      const after = await balance(e, e.account.address);
      e.c.out.result({ settled, received: after - before, balance: after }, () =>
        settled.length === 0
          ? 'nothing to settle'
          : [
              ...settled.map((s) => `settled ${s.channelId} (tx ${s.tx})`),
              `received ${fmt(after - before)}; wallet ${fmt(after)}`,
            ].join('\n'),
      );
    });
}
