/** Governance & rewards: the protocol parameters, proposals and their state, rewards per party and claims. */
import type { DashboardState } from '../../../src/dashboard/types.ts';
import { addressNamer, formatAgora, rewardsByParty } from '../../../src/dashboard/views.ts';
import { Addr, Badge, Empty, Hash, Section } from '../ui.tsx';

export function GovernancePage({ s }: { s: DashboardState }) {
  const name = addressNamer(s);
  const proposals = Object.values(s.proposals).sort((a, b) => b.voteStart - a.voteStart);
  const parties = rewardsByParty(Object.values(s.rewards));
  const jobs = Object.values(s.jobs).filter((j) => j.rewardRoot);
  const total = parties.reduce((n, p) => n + p.amount, 0n);
  const claimed = parties.reduce((n, p) => n + p.claimed, 0n);
  return (
    <>
      <div class="two">
        <Section
          title="Protocol parameters"
          note="ProtocolParams is owned by the timelock: parameters change only through a passed Governor proposal."
        >
          <table>
            <tbody>
              {Object.entries(s.params).map(([k, v]) => (
                <tr key={k}>
                  <td>{k}</td>
                  <td>{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
        <Section title="Proposals">
          {proposals.length === 0 ? (
            <Empty>
              No proposal yet. AGORA holders propose with the Governor; votes are counted with the token's
              delegated votes.
            </Empty>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>proposal</th>
                  <th>by</th>
                  <th>calls</th>
                  <th>state</th>
                  <th>voting</th>
                </tr>
              </thead>
              <tbody>
                {proposals.map((p) => (
                  <tr key={p.proposalId}>
                    <td>{p.description.split('\n')[0]}</td>
                    <td>{name(p.proposer)}</td>
                    <td>{p.targets.join(', ')}</td>
                    <td>
                      <Badge>{p.state}</Badge>
                    </td>
                    <td class="small">
                      {new Date(p.voteStart * 1000).toLocaleTimeString()} –{' '}
                      {new Date(p.voteEnd * 1000).toLocaleTimeString()}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
      </div>
      <Section
        title="Rewards per party"
        note="A job's escrow is split among its providers (by committed rounds), its data contributors (by samples used) and its validators (by rounds checked); each party claims its leaf of the posted Merkle root."
      >
        {parties.length === 0 ? (
          <Empty>No rewards yet: they are posted when a job closes.</Empty>
        ) : (
          <table data-testid="rewards">
            <thead>
              <tr>
                <th>party</th>
                <th>paid as</th>
                <th>jobs</th>
                <th class="num">reward</th>
                <th class="num">claimed</th>
              </tr>
            </thead>
            <tbody>
              {parties.map((p) => (
                <tr key={p.account}>
                  <td>
                    <Addr address={p.account} name={name(p.account)} />
                  </td>
                  <td>{p.roles}</td>
                  <td>{p.jobs.join(', ')}</td>
                  <td class="num">{formatAgora(p.amount)}</td>
                  <td class="num">
                    {p.claimed === p.amount ? <Badge>claimed</Badge> : formatAgora(p.claimed)}
                  </td>
                </tr>
              ))}
              <tr class="total">
                <td colSpan={3}>total</td>
                <td class="num">{formatAgora(total)}</td>
                <td class="num">{formatAgora(claimed)}</td>
              </tr>
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Reward roots">
        {jobs.length === 0 ? (
          <Empty>No reward root posted yet.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th>job</th>
                <th>root</th>
                <th class="num">total</th>
                <th class="num">escrow</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => (
                <tr key={j.jobId}>
                  <td>{j.jobId}</td>
                  <td>
                    <Hash value={j.rewardRoot} />
                  </td>
                  <td class="num">{formatAgora(j.rewardTotal ?? '0')}</td>
                  <td class="num">{formatAgora(j.escrow)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
