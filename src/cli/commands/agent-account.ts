/**
 * `agora agent start`: the autonomous agent daemon (src/agent/daemon.ts), and `agora agent account
 * create|show`: the agent's on-chain spending policy (contracts/AgentAccount.sol).
 * The owner's wallet signs `create`; the agent later acts with its own key (`agora ask --policy FILE`
 * with the account's address in the policy file).
 */
import { appendFileSync } from 'node:fs';
import type { Command } from 'commander';
import { formatEther, type LocalAccount } from 'viem';
import { createAgentAccount } from '../../agent/account-setup.ts';
import { agentAccountClient } from '../../agent/agent-account.ts';
import { AgentDaemon } from '../../agent/daemon.ts';
import { loadPolicy } from '../../agent/policy.ts';
import { walletClientFor } from '../../chain/connect.ts';
import { deploymentOfferSources } from '../../serve/discovery.ts';
import { parseAmount } from '../../wallet/amount.ts';
import { resolveAddress } from '../../wallet/contacts.ts';
import type { CliContext } from '../context.ts';
import { untilSignal } from './chain.ts';

type Ctx = (cmd: Command) => CliContext;

export function registerAgentAccountCommands(agent: Command, ctx: Ctx): void {
  agent
    .command('start')
    .requiredOption(
      '--policy <file>',
      'policy JSON with an "autonomy" section (voting rules, claim threshold, prediction queue)',
    )
    .option('--log <file>', 'also append each decision as a JSON line to this file')
    .description(
      'run an autonomous agent: votes by its rules (reason on chain), claims rewards, buys predictions for queued inputs; Ctrl-C stops',
    )
    .action(async (o: { policy: string; log?: string }, cmd: Command) => {
      const c = ctx(cmd);
      const policy = loadPolicy(o.policy);
      const conn = await c.connect();
      const d = await c.deployment(conn, ['AgoraGovernor']);
      const account = (await c.signer(conn)) as LocalAccount;
      const daemon = new AgentDaemon({
        conn,
        deployment: d,
        home: c.home,
        account,
        policy,
        modelSources: deploymentOfferSources(conn, d),
        log: (x) => {
          const line = JSON.stringify(x);
          if (c.out.json) process.stdout.write(`${line}\n`);
          else
            c.out.progress(
              `${x.kind} ${x.subject}${x.support ? ` ${x.support}` : ''}: ${x.reason}${x.txHash ? ` (tx ${x.txHash})` : ''}`,
            );
          if (o.log) appendFileSync(o.log, `${line}\n`);
        },
      });
      c.out.progress(
        `agent ${account.address} running on chain ${conn.chainId} (every ${policy.autonomy?.intervalSeconds ?? 30} s)`,
      );
      await daemon.start();
      await untilSignal(() => daemon.stop());
    });

  const account = agent
    .command('account')
    .description(
      'on-chain spending policy: an account the agent spends from, within limits the chain enforces',
    );

  account
    .command('create')
    .requiredOption('--agent <address|name>', "the agent's own address (never the owner's key)")
    .requiredOption('--policy <file>', 'policy JSON: caps per period, counterparties, contracts, expiry')
    .option('--fund <agora>', 'AGORA to move from your wallet into the account')
    .description('deploy an AgentAccount with the policy, fund it, delegate its votes to the agent')
    .action(async (o: { agent: string; policy: string; fund?: string }, cmd: Command) => {
      const c = ctx(cmd);
      const policy = loadPolicy(o.policy);
      const agentAddress = resolveAddress(c.home, o.agent).address;
      const fund = o.fund === undefined ? undefined : parseAmount(o.fund);
      const conn = await c.connect();
      const d = await c.deployment(conn, ['AgoraToken']);
      const owner = walletClientFor(conn, await c.signer(conn));
      const r = await createAgentAccount({
        conn,
        deployment: d,
        owner,
        agent: agentAddress,
        policy,
        fund,
        onProgress: (m) => c.out.progress(m),
      });
      c.out.result(
        {
          ...r,
          caps: r.caps.map((x) => ({ ...x, cap: formatEther(x.cap) })),
          funded: formatEther(r.funded),
        },
        () =>
          [
            `agent account ${r.account} for agent ${r.agent}, owned by ${r.owner}`,
            ...r.caps.map((x) => `  cap ${formatEther(x.cap)} of ${x.token} per ${x.periodSeconds} s`),
            `  counterparties ${r.counterparties.join(', ') || '-'}; contracts ${r.contracts.join(', ') || '-'}`,
            `  expires ${new Date(r.expiry * 1000).toISOString()}; funded ${formatEther(r.funded)} AGORA; votes delegated to the agent`,
            `add "account": "${r.account}" to the agent's policy file so its transfers go through it`,
          ].join('\n'),
      );
    });

  account
    .command('show')
    .argument('<account>', 'AgentAccount address or contact name')
    .description('an agent account: owner, agent, expiry, AGORA cap and what is left in this period')
    .action(async (who: string, _o, cmd: Command) => {
      const c = ctx(cmd);
      const address = resolveAddress(c.home, who).address;
      const conn = await c.connect();
      const d = await c.deployment(conn, ['AgoraToken']);
      const a = agentAccountClient(conn, address);
      const token = d.contracts.AgoraToken!;
      const [owner, agentKey, expiry, allowance] = await Promise.all([
        a.owner(),
        a.agent(),
        a.expiry(),
        a.allowance(token),
      ]);
      const s = {
        account: address,
        owner,
        agent: agentKey,
        expiry: Number(expiry),
        agora: {
          cap: formatEther(allowance.cap),
          periodSeconds: Number(allowance.period),
          spent: formatEther(allowance.spent),
          available: formatEther(allowance.available),
        },
      };
      c.out.result(s, () =>
        [
          `agent account ${address}: owner ${owner}, agent ${agentKey}, expires ${new Date(s.expiry * 1000).toISOString()}`,
          `  AGORA: ${s.agora.spent} of ${s.agora.cap} spent this period (${s.agora.periodSeconds} s); ${s.agora.available} left`,
        ].join('\n'),
      );
    });
}
