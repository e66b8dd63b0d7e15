/**
 * `agora gov propose|list|show|vote|delegate|queue|execute|params`: the commons in its members' hands.
 * Thin: parse, call src/gov, print (`--json` for machines, progress on stderr while waiting).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatEther, getAddress } from 'viem';
import type { ChainConnection } from '../../chain/connect.ts';
import { walletClientFor } from '../../chain/connect.ts';
import { AgoraError } from '../../errors.ts';
import {
  ACTION_FLAGS,
  type ActionFlag,
  actionsFromFlags,
  addFlagValue,
  type FlagUse,
} from '../../gov/action-flags.ts';
import { proposalDescription } from '../../gov/description.ts';
import { VOTE_SUPPORTS, type VoteSupport } from '../../gov/governance.ts';
import * as member from '../../gov/member.ts';
import { PARAM_NAMES } from '../../gov/params.ts';
import { type GovChain, govChain } from '../../gov/proposals.ts';
import { resolveAccount, resolveTarget } from '../../gov/resolve.ts';
import { paramsView, proposalLines, proposalRows, proposalView } from '../../gov/view.ts';
import { actionWords } from '../../gov/words.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

async function chainOf(c: CliContext): Promise<GovChain> {
  const conn: ChainConnection = await c.connect();
  return govChain(conn, await c.deployment(conn, ['AgoraGovernor', 'ProtocolParams', 'AgoraToken']));
}

async function signerOf(c: CliContext, g: GovChain) {
  return walletClientFor(g.conn, await c.signer(g.conn));
}

const at = (t: bigint) => new Date(Number(t) * 1000).toISOString().replace('.000Z', 'Z');

function waitOpts(c: CliContext) {
  return { onProgress: (m: string) => c.out.progress(m) };
}

const ACTION_HELP: Record<ActionFlag, [string, string]> = {
  set: [
    '--set <param=value>',
    `set a parameter (${PARAM_NAMES.join(', ')}); AGORA amounts like 250, periods like 90s/10m/7d`,
  ],
  'add-validator': ['--add-validator <address>', 'approve a validator'],
  'remove-validator': ['--remove-validator <address>', 'remove a validator'],
  'admit-sector': ['--admit-sector <name>', 'open a sector to dataset registrations'],
  'retire-sector': ['--retire-sector <name>', 'retire a sector (no new datasets)'],
  grant: ['--grant <to_amount...>', 'TO AMOUNT: pay AMOUNT AGORA from the treasury to TO'],
  call: [
    '--call <target_sig_args...>',
    'TARGET SIG ARGS…: any call, e.g. ComputeMarket "dismissFraud(uint256)" 3',
  ],
};

export function registerGovCommands(program: Command, ctx: Ctx): void {
  const gov = program
    .command('gov')
    .description('governance: propose, vote, queue, execute; protocol parameters');

  const uses: FlagUse[] = [];
  const propose = gov
    .command('propose')
    .description('propose actions (in the order given); members vote, then it is queued and executed')
    .requiredOption('--title <text>', 'one-line title')
    .option('--description <markdown>', 'what and why (Markdown)')
    .option('--description-file <file>', 'the description from a Markdown file');
  for (const flag of ACTION_FLAGS) {
    const [spec, help] = ACTION_HELP[flag];
    propose.option(spec, help, (v: string) => {
      addFlagValue(uses, flag, v);
      return v;
    });
  }
  propose.action(
    async (o: { title: string; description?: string; descriptionFile?: string }, cmd: Command) => {
      const c = ctx(cmd);
      const g = await chainOf(c);
      const actions = actionsFromFlags(
        uses,
        (s) => resolveAccount(c.home, s),
        (s) => resolveTarget(c.home, g.contracts, s),
      );
      if (o.description !== undefined && o.descriptionFile) {
        throw new AgoraError('BAD_OPTION', 'give the description either inline or from a file, not both', {
          hint: 'use --description TEXT or --description-file FILE',
        });
      }
      let body = o.description ?? '';
      if (o.descriptionFile) {
        try {
          body = readFileSync(o.descriptionFile, 'utf8');
        } catch (e) {
          throw new AgoraError('GOV_BAD_FILE', `cannot read ${o.descriptionFile}`, { cause: e });
        }
      }
      const signer = await signerOf(c, g);
      const { proposal, before } = await member.propose(
        g,
        signer,
        actions,
        proposalDescription(o.title, body),
      );
      const words = actions.map((a) => actionWords(a, before));
      c.out.result(
        {
          proposalId: proposal.id.toString(),
          number: proposal.number,
          title: proposal.title,
          actions: words,
          // unix seconds: voting is open after voteStart and until voteEnd (inclusive)
          voteStart: Number(proposal.voteStart),
          voteEnd: Number(proposal.voteEnd),
        },
        () =>
          [
            `proposal ${proposal.number} created: ${proposal.title}`,
            `  id ${proposal.id}`,
            ...words.map((w, i) => `  ${i + 1}. ${w}`),
            `voting opens after ${at(proposal.voteStart)} and closes after ${at(proposal.voteEnd)}; vote with \`agora gov vote ${proposal.number} for|against|abstain\``,
          ].join('\n'),
      );
    },
  );

  gov
    .command('list')
    .description('every proposal: number, state, what happens next')
    .action(async (_o, cmd: Command) => {
      const c = ctx(cmd);
      const rows = await proposalRows(await chainOf(c));
      c.out.result({ proposals: rows }, () =>
        rows.length === 0
          ? 'no proposals yet (make one with `agora gov propose`)'
          : rows
              .map((r) =>
                [
                  `${r.number}. ${r.title} [${r.state}: ${r.next}]`,
                  ...r.actions.map((a) => `     ${a}`),
                ].join('\n'),
              )
              .join('\n'),
      );
    });

  gov
    .command('show')
    .argument('<id>', 'proposal id, or its number in `agora gov list`')
    .description('a proposal: state, actions in words, votes, quorum, time left in each phase')
    .action(async (id: string, _o, cmd: Command) => {
      const c = ctx(cmd);
      const v = await proposalView(await chainOf(c), id);
      c.out.result(v, () => proposalLines(v).join('\n'));
    });

  gov
    .command('vote')
    .argument('<id>', 'proposal id or number')
    .argument('<support>', 'for, against or abstain')
    .option('--reason <text>', 'why (recorded on chain with the vote)')
    .option('--wait', 'wait for voting to open')
    .description('vote on a proposal with your delegated votes')
    .action(async (id: string, support: string, o: { reason?: string; wait?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      if (!VOTE_SUPPORTS.includes(support as VoteSupport)) {
        throw new AgoraError('BAD_OPTION', `vote "${support}"? say for, against or abstain`);
      }
      const g = await chainOf(c);
      const signer = await signerOf(c, g);
      const r = await member.vote(g, signer, id, support as VoteSupport, { ...o, ...waitOpts(c) });
      c.out.result(
        {
          proposalId: r.proposal.id.toString(),
          number: r.proposal.number,
          voter: signer.account.address,
          support: r.support,
          weight: formatEther(r.weight),
          txHash: r.receipt.transactionHash,
        },
        () =>
          `voted ${r.support} on proposal ${r.proposal.number} with ${formatEther(r.weight)} AGORA of votes`,
      );
    });

  gov
    .command('delegate')
    .argument('<to>', 'address (or `self` to vote with your own tokens)')
    .description('give your votes to a member (or yourself); they count from the next proposal')
    .action(async (to: string, _o, cmd: Command) => {
      const c = ctx(cmd);
      const g = await chainOf(c);
      const signer = await signerOf(c, g);
      const target = ['self', 'me'].includes(to) ? signer.account.address : resolveAccount(c.home, to);
      const r = await member.delegate(g, signer, target);
      c.out.result(
        {
          from: signer.account.address,
          to: getAddress(target),
          balance: formatEther(r.balance),
          votesOfDelegate: formatEther(r.votesOfDelegate),
          txHash: r.receipt.transactionHash,
        },
        () =>
          `delegated the votes of ${signer.account.address} (${formatEther(r.balance)} AGORA) to ${target}; it now has ${formatEther(r.votesOfDelegate)} AGORA of votes`,
      );
    });

  gov
    .command('queue')
    .argument('<id>', 'proposal id or number')
    .option('--wait', 'wait until the vote is over (and passed)')
    .description('queue a passed proposal in the timelock')
    .action(async (id: string, o: { wait?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      const g = await chainOf(c);
      const r = await member.queue(g, await signerOf(c, g), id, { ...o, ...waitOpts(c) });
      c.out.result(
        {
          proposalId: r.proposal.id.toString(),
          number: r.proposal.number,
          eta: Number(r.eta),
          txHash: r.receipt.transactionHash,
        },
        () =>
          `queued proposal ${r.proposal.number}; executable from ${at(r.eta)} (\`agora gov execute ${r.proposal.number} --wait\`)`,
      );
    });

  gov
    .command('cancel')
    .argument('<id>', 'proposal id or number')
    .description('withdraw your own proposal before voting opens')
    .action(async (id: string, _o, cmd: Command) => {
      const c = ctx(cmd);
      const g = await chainOf(c);
      const r = await member.cancel(g, await signerOf(c, g), id);
      c.out.result(
        {
          proposalId: r.proposal.id.toString(),
          number: r.proposal.number,
          txHash: r.receipt.transactionHash,
        },
        () => `canceled proposal ${r.proposal.number}: ${r.proposal.title}`,
      );
    });

  gov
    .command('execute')
    .argument('<id>', 'proposal id or number')
    .option('--wait', 'follow it to the end: wait for the vote, queue, wait for the timelock, execute')
    .description('execute a queued proposal once the timelock releases it')
    .action(async (id: string, o: { wait?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      const g = await chainOf(c);
      const r = await member.execute(g, await signerOf(c, g), id, { ...o, ...waitOpts(c) });
      c.out.result(
        {
          proposalId: r.proposal.id.toString(),
          number: r.proposal.number,
          queued: r.queued,
          txHash: r.receipt.transactionHash,
        },
        () => `executed proposal ${r.proposal.number}: ${r.proposal.title} (see \`agora gov params\`)`,
      );
    });

  gov
    .command('params')
    .description('every governed parameter now, with the proposal that last changed it')
    .action(async (_o, cmd: Command) => {
      const c = ctx(cmd);
      const v = await paramsView(await chainOf(c));
      c.out.result(v.json, () => v.lines.join('\n'));
    });
}
