/**
 * What an account holds on the connected chain: ETH for gas, AGORA (and its voting power and
 * delegate), provider stake, reward claims this home knows are still owed, and its open payment
 * channels (from the PaymentChannels events where it is sender or recipient).
 */
import { type Address, getAddress, type Hex, parseAbiItem, zeroAddress } from 'viem';
import { AgoraToken } from '../../artifacts/index.ts';
import { computeMarketClient } from '../chain/compute-market.ts';
import type { ChainConnection } from '../chain/connect.ts';
import type { Deployment } from '../chain/deployments.ts';
import { tokenClient } from '../chain/token.ts';
import { readTx } from '../chain/tx.ts';
import { claimableRewards } from '../market/claimable.ts';
import { ChannelClient } from '../pay/channel-client.ts';

export type OpenChannel = {
  channelId: Hex;
  role: 'sender' | 'recipient';
  counterparty: Address;
  token: Address;
  deposit: bigint;
  paid: bigint;
  /** 0 while open; unix seconds when the challenge period ends once closing started. */
  closesAt: number;
};

export type WalletBalance = {
  chainId: number;
  address: Address;
  eth: bigint;
  agora: bigint;
  votes: bigint;
  delegate: Address | null;
  stake: { stake: bigint; locked: bigint; active: boolean } | null;
  claimable: { jobId: string; amount: bigint }[];
  channels: OpenChannel[];
};

const opened = parseAbiItem(
  'event ChannelOpened(bytes32 indexed channelId, address indexed sender, address indexed recipient, address token, uint256 deposit, uint256 challengePeriod)',
);

/** Open (not finalized) channels where `account` is sender or recipient. */
export async function openChannels(
  conn: ChainConnection,
  channels: Address,
  account: Address,
  fromBlock = 0n,
): Promise<OpenChannel[]> {
  const [asSender, asRecipient] = await Promise.all([
    conn.publicClient.getLogs({ address: channels, event: opened, args: { sender: account }, fromBlock }),
    conn.publicClient.getLogs({ address: channels, event: opened, args: { recipient: account }, fromBlock }),
  ]);
  const client = new ChannelClient(conn, channels);
  const out: OpenChannel[] = [];
  const seen = new Set<string>();
  for (const [role, logs] of [
    ['sender', asSender],
    ['recipient', asRecipient],
  ] as const) {
    for (const log of logs) {
      const id = log.args.channelId as Hex;
      if (seen.has(`${role}${id}`)) continue;
      seen.add(`${role}${id}`);
      const c = await client.getChannel(id);
      if (!c.exists || c.finalized) continue;
      out.push({
        channelId: id,
        role,
        counterparty: role === 'sender' ? c.recipient : c.sender,
        token: c.token,
        deposit: c.deposit,
        paid: c.paid,
        closesAt: c.closesAt,
      });
    }
  }
  return out;
}

/** Everything `agora wallet balance` shows. Parts whose contract is not deployed are null/empty. */
export async function walletBalance(
  conn: ChainConnection,
  deployment: Deployment | undefined,
  home: string,
  account: Address,
): Promise<WalletBalance> {
  const address = getAddress(account);
  const c = deployment?.contracts ?? {};
  const eth = await conn.publicClient.getBalance({ address });
  let agora = 0n;
  let votes = 0n;
  let delegate: Address | null = null;
  if (c.AgoraToken) {
    const token = tokenClient(conn, c.AgoraToken);
    [agora, votes] = await Promise.all([token.balanceOf(address), token.getVotes(address)]);
    const d = await readTx<Address>(conn, {
      label: 'AgoraToken.delegates',
      address: c.AgoraToken,
      abi: AgoraToken.abi,
      functionName: 'delegates',
      args: [address],
    });
    delegate = d === zeroAddress ? null : d;
  }
  let stake: WalletBalance['stake'] = null;
  if (c.ComputeMarket) {
    const p = await computeMarketClient(conn, c.ComputeMarket).getProvider(address);
    if (p.stake > 0n || p.active) stake = { stake: p.stake, locked: p.locked, active: p.active };
  }
  const claimable = c.TrainingLedger
    ? (await claimableRewards(conn, c.TrainingLedger, home, address)).map((x) => ({
        jobId: x.jobId,
        amount: x.amount,
      }))
    : [];
  const channels = c.PaymentChannels
    ? await openChannels(conn, c.PaymentChannels, address, BigInt(deployment?.blockNumber ?? 0))
    : [];
  return { chainId: conn.chainId, address, eth, agora, votes, delegate, stake, claimable, channels };
}
