/**
 * Chain events in words (pure): "provider-1 joined job 1 (stake 100 AGORA locked)". Addresses are
 * named by `nameOf` (peers and contracts the dashboard knows), amounts are shown in AGORA.
 */
import { formatEther } from 'viem';

export type NameOf = (address: string) => string;

const short = (h: unknown) => {
  const s = String(h);
  return s.length > 14 ? `${s.slice(0, 10)}…` : s;
};
const agora = (wei: unknown) => `${trimAmount(formatEther(BigInt(wei as bigint)))} AGORA`;

function trimAmount(s: string): string {
  const [i, f = ''] = s.split('.');
  const frac = f.slice(0, 4).replace(/0+$/, '');
  return frac ? `${i}.${frac}` : i;
}

/** One event of a protocol contract as a sentence. */
export function describeEvent(name: string, args: Record<string, unknown>, nameOf: NameOf): string {
  const a = (k: string) => nameOf(String(args[k]));
  const n = (k: string) => String(args[k]);
  const round = (k = 'round') => `round ${Number(args[k]) + 1}`;
  switch (name) {
    case 'Transfer':
      return `${agora(args.value)} moved from ${a('from')} to ${a('to')}`;
    case 'Approval':
      return `${a('owner')} allowed ${a('spender')} to spend ${agora(args.value)}`;
    case 'DelegateVotesChanged':
      return `${a('delegate')} now has ${agora(args.newVotes)} of votes (was ${agora(args.previousVotes)})`;
    case 'DelegateChanged':
      return `${a('delegator')} delegated its votes to ${a('toDelegate')}`;
    case 'ProviderRegistered':
      return `${a('provider')} offered compute at ${agora(args.pricePerRound)} per round, staking ${agora(args.stake)} (hardware ${short(args.hardwareHash)})`;
    case 'OfferUpdated':
      return `${a('provider')} updated its offer: ${agora(args.pricePerRound)} per round`;
    case 'ProviderDeregistered':
      return `${a('provider')} withdrew its offer`;
    case 'StakeAdded':
      return `${a('provider')} added ${agora(args.amount)} stake (total ${agora(args.total)})`;
    case 'StakeWithdrawn':
      return `${a('provider')} withdrew ${agora(args.amount)} stake (left ${agora(args.total)})`;
    case 'JobCreated':
      return `${a('requester')} posted job ${n('jobId')}: ${n('workers')} workers × ${n('rounds')} rounds of H=${n('innerSteps')} on dataset(s) ${(args.datasetIds as unknown[]).join(', ')}, ${agora(args.pricePerRound)} per worker-round (escrow ${agora(args.escrow)}, fee ${agora(args.fee)})`;
    case 'JobJoined':
      return `${a('provider')} joined job ${n('jobId')} as worker ${Number(args.index) + 1}, locking ${agora(args.lockedStake)} stake`;
    case 'JobStarted':
      return `job ${n('jobId')} started with ${(args.participants as unknown[]).length} providers`;
    case 'JobCancelled':
      return `job ${n('jobId')} was cancelled (${agora(args.refund)} refunded)`;
    case 'JobUnfilled':
      return `job ${n('jobId')} did not fill (${agora(args.refund)} refunded)`;
    case 'JobClosed':
      return 'paid' in args
        ? `job ${n('jobId')} ended after ${n('roundsCommitted')} rounds: ${agora(args.paid)} paid, ${agora(args.refund)} refunded`
        : `the ledger closed job ${n('jobId')}: ${n('roundsCommitted')} rounds, ${agora(args.funded)} to share, final model ${short(args.finalModelHash)}`;
    case 'StakeReleased':
      return `${a('provider')} got its ${agora(args.amount)} stake of job ${n('jobId')} back`;
    case 'Slashed':
      return `${a('provider')} was slashed ${agora(args.amount)} in job ${n('jobId')} (to ${a('recipient')})`;
    case 'EquivocationProven':
      return `${a('provider')} signed two records for ${round()} of job ${n('jobId')}`;
    case 'FraudReported':
      return `${a('validator')} reported ${a('provider')} for ${round()} of job ${n('jobId')} (report ${n('reportId')}, evidence ${short(args.evidenceHash)})`;
    case 'FraudDismissed':
      return `governance dismissed fraud report ${n('reportId')}`;
    case 'LedgerBound':
      return `the compute market was bound to the training ledger ${a('ledger')}`;
    case 'DatasetRegistered':
      return `${a('contributor')} registered dataset ${n('datasetId')} (root ${short(args.root)}, manifest ${short(args.manifestHash)})`;
    case 'TermsInterned':
      return `terms ${n('termsId')}: licence ${n('licence')}, sector ${n('sector')}`;
    case 'QualityAttested':
      return `${a('validator')} scored dataset ${n('datasetId')}: ${n('score')}`;
    case 'SectorAdmission':
      return `dataset ${n('datasetId')} ${args.admitted ? 'admitted to' : 'removed from'} sector ${n('sector')}`;
    case 'RoundCommitted':
      return `${round()} of job ${n('jobId')} committed with ${n('signers')} co-signatures (model ${short(args.modelHash)}, records ${short(args.recordsRoot)})`;
    case 'RewardRootPosted':
      return `the rewards of job ${n('epoch')} were posted: ${agora(args.total)} under root ${short(args.root)} (${n('signers')} signatures)`;
    case 'Claimed':
      return `${a('account')} claimed ${agora(args.amount)} from job ${n('epoch')}`;
    case 'Swept':
      return `${agora(args.amount)} unallocated from job ${n('epoch')} swept to the treasury`;
    case 'ParamChanged':
      return `parameter ${n('name')} changed from ${n('oldValue')} to ${n('newValue')}`;
    case 'TreasuryChanged':
      return `the treasury moved from ${a('oldTreasury')} to ${a('newTreasury')}`;
    case 'ValidatorSet':
      return `${a('validator')} ${args.approved ? 'approved' : 'removed'} as a validator`;
    case 'SectorSet':
      return `sector ${n('sector')} ${args.allowed ? 'allowed' : 'disallowed'}`;
    case 'ProposalCreated':
      return `${a('proposer')} proposed #${short(args.proposalId)}: ${firstLine(String(args.description))}`;
    case 'VoteCast':
      return `${a('voter')} voted ${['against', 'for', 'abstain'][Number(args.support)] ?? args.support} on #${short(args.proposalId)} with ${agora(args.weight)} of votes`;
    case 'ProposalQueued':
      return `proposal #${short(args.proposalId)} queued in the timelock`;
    case 'ProposalExecuted':
      return `proposal #${short(args.proposalId)} executed`;
    case 'ProposalCanceled':
      return `proposal #${short(args.proposalId)} cancelled`;
    case 'RoleGranted':
      return `${a('account')} was granted role ${short(args.role)}`;
    case 'RoleRevoked':
      return `${a('account')} lost role ${short(args.role)}`;
    case 'OwnershipTransferred':
      return `ownership moved from ${a('previousOwner')} to ${a('newOwner')}`;
    case 'ChannelOpened':
      return `payment channel ${short(args.channelId)} opened`;
    case 'ChannelSettled':
      return `payment channel ${short(args.channelId)} settled ${agora(args.amount)}`;
    default:
      return `${name}(${Object.entries(args)
        .map(
          ([k, v]) =>
            `${k}: ${short(typeof v === 'string' && v.startsWith('0x') && v.length === 42 ? nameOf(v) : v)}`,
        )
        .join(', ')})`;
  }
}

function firstLine(s: string): string {
  const l = s.split('\n')[0].replace(/^#+\s*/, '');
  return l.length > 80 ? `${l.slice(0, 79)}…` : l;
}

/** A contract call as words: "TrainingLedger.commitRound". */
export function describeCall(contract: string | null, fn: string | null, to: string | null): string {
  if (!to) return 'contract creation';
  if (contract && fn) return `${contract}.${fn}`;
  if (contract) return contract;
  return fn ?? 'transfer';
}
