/** Job: the loss and accuracy curves, bytes against DDP, and every committed round with its proof trail. */
import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import type { DashboardState } from '../../../src/dashboard/types.ts';
import {
  addressNamer,
  committedRounds,
  currentJobId,
  formatAgora,
  formatBytes,
  jobSeries,
  latestAccuracy,
  percent,
} from '../../../src/dashboard/views.ts';
import { Chart } from '../chart.tsx';
import { Addr, Badge, Empty, Hash, Section, Tiles } from '../ui.tsx';

/** Whole rounds on the x axes. */
const ROUND_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

const LOSS_OPTS: Omit<uPlot.Options, 'width' | 'height' | 'title'> = {
  scales: { x: { time: false }, acc: { range: [0, 1] } },
  axes: [
    { label: 'round', incrs: ROUND_STEPS },
    { label: 'train loss', scale: 'y' },
    {
      label: 'test accuracy',
      scale: 'acc',
      side: 1,
      grid: { show: false },
      values: (_u, v) => v.map((x) => (x == null ? '' : `${Math.round(x * 100)}%`)),
    },
  ],
  series: [
    { label: 'round' },
    { label: 'train loss', stroke: '#2563eb', width: 2, points: { show: true, size: 5 }, scale: 'y' },
    {
      label: 'test accuracy',
      stroke: '#16a34a',
      width: 2,
      points: { show: true, size: 6 },
      scale: 'acc',
      spanGaps: true,
    },
    {
      label: 'centralized baseline',
      stroke: '#9333ea',
      dash: [6, 4],
      width: 1.5,
      scale: 'acc',
      points: { show: false },
    },
  ],
};

const BYTES_OPTS: Omit<uPlot.Options, 'width' | 'height' | 'title'> = {
  scales: { x: { time: false }, y: { distr: 3 } },
  axes: [
    { label: 'round', incrs: ROUND_STEPS },
    {
      label: 'bytes sent per worker (log)',
      values: (_u, v) => v.map((x) => (x == null ? '' : formatBytes(x))),
      size: 70,
    },
  ],
  series: [
    { label: 'round' },
    { label: 'DiLoCo (this job)', stroke: '#2563eb', width: 2, points: { show: true, size: 4 } },
    {
      label: 'DDP (fp32 all-reduce every step)',
      stroke: '#dc2626',
      width: 2,
      dash: [6, 4],
      points: { show: false },
    },
  ],
};

export function JobPage({ s }: { s: DashboardState }) {
  const jobId = currentJobId(s);
  const series = useMemo(() => (jobId ? jobSeries(s, jobId) : null), [s.rounds, s.jobs, jobId]);
  if (!jobId || !series)
    return <Empty>No job yet: the requester posts one once the providers have staked.</Empty>;
  const job = s.jobs[jobId];
  const name = addressNamer(s);
  const rows = committedRounds(s, jobId).reverse();
  const acc = latestAccuracy(s, jobId);
  const baseline = job.result?.centralizedAccuracy ?? null;
  const lastBytes = series.bytesPerWorker[series.bytesPerWorker.length - 1] ?? 0;
  const lastDdp = series.ddpBytesPerWorker[series.ddpBytesPerWorker.length - 1] ?? null;
  const reports = Object.values(s.reports).filter((r) => r.jobId === jobId);
  const lossData: uPlot.AlignedData = [
    series.round,
    series.trainLoss,
    series.testAccuracy,
    series.round.map(() => baseline),
  ];
  const bytesData: uPlot.AlignedData = [series.round, series.bytesPerWorker, series.ddpBytesPerWorker];
  return (
    <>
      <Tiles
        items={[
          [`job ${jobId}`, <Badge key="s">{job.state}</Badge>],
          ['rounds committed', `${job.roundsCommitted} / ${job.rounds}`],
          ['workers × inner steps', `${job.workers} × H=${job.innerSteps}`],
          job.result
            ? ['final model accuracy', percent(job.result.testAccuracy)]
            : ['test accuracy', acc ? `${percent(acc.accuracy)} (round ${acc.round + 1})` : '—'],
          ['centralized baseline', baseline === null ? 'after the job' : percent(baseline)],
          ['bytes vs DDP', lastDdp && lastBytes ? `${(lastDdp / lastBytes).toFixed(0)}× fewer` : '—'],
          ['escrow', formatAgora(job.escrow)],
        ]}
      />
      <div class="charts">
        <section class="card">
          <Chart title="Loss and accuracy per round" opts={LOSS_OPTS} data={lossData} testId="loss-chart" />
        </section>
        <section class="card">
          <Chart
            title="Bytes sent per worker: DiLoCo against DDP"
            opts={BYTES_OPTS}
            data={bytesData}
            testId="bytes-chart"
          />
        </section>
      </div>
      <Section
        title="Rounds"
        note="Each round is committed on the TrainingLedger with the co-signatures of the providers whose records it holds; validators then check it by proof (link check, window replay)."
      >
        {rows.length === 0 ? (
          <Empty>No round committed yet.</Empty>
        ) : (
          <table data-testid="rounds">
            <thead>
              <tr>
                <th>round</th>
                <th class="num">train loss</th>
                <th class="num">test acc.</th>
                <th class="num">bytes sent</th>
                <th>commit transaction</th>
                <th>co-signers</th>
                <th>validator checks</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => {
                const workers = r.checks.flatMap((c) => c.workers);
                const failed = workers.filter((w) => w.failed);
                return (
                  <tr key={r.round} data-round={r.round}>
                    <td>{r.round + 1}</td>
                    <td class="num">{r.trainLoss === null ? '—' : r.trainLoss.toFixed(4)}</td>
                    <td class="num">{percent(r.testAccuracy)}</td>
                    <td class="num">{formatBytes(r.bytesSent)}</td>
                    <td>
                      <Hash value={r.commit?.txHash ?? null} />{' '}
                      <span class="muted small">block {r.commit?.block}</span>
                    </td>
                    <td class="small">{r.commit?.signers.map((a) => name(a)).join(', ')}</td>
                    <td class="small">
                      {workers.length === 0 ? (
                        <span class="muted">pending</span>
                      ) : failed.length ? (
                        <Badge tone="bad">{`failed: ${failed.map((w) => name(w.worker)).join(', ')}`}</Badge>
                      ) : (
                        `${workers.length} workers pass (link${workers.some((w) => w.replays.length) ? ' + replay' : ''})`
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </Section>
      <Section title="Fraud reports and slashes">
        {reports.length === 0 ? (
          <Empty>No provider was reported in this job.</Empty>
        ) : (
          <table>
            <thead>
              <tr>
                <th>report</th>
                <th>provider</th>
                <th>round</th>
                <th>by</th>
                <th>state</th>
                <th>slashed</th>
              </tr>
            </thead>
            <tbody>
              {reports.map((r) => (
                <tr key={r.reportId}>
                  <td>{r.reportId}</td>
                  <td>
                    <Addr address={r.provider} name={name(r.provider)} />
                  </td>
                  <td>{r.round + 1}</td>
                  <td>{name(r.validator)}</td>
                  <td>
                    <Badge tone={r.state === 'Dismissed' ? 'neutral' : 'bad'}>
                      {r.state === 'Executed' ? 'slashed' : r.state}
                    </Badge>
                  </td>
                  <td>{r.slashed ? formatAgora(r.slashed) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </>
  );
}
