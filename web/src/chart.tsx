/** A uPlot chart as a Preact component: created once, fed new data with setData, resized with its box. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export type ChartProps = {
  title: string;
  opts: Omit<uPlot.Options, 'width' | 'height' | 'title'>;
  data: uPlot.AlignedData;
  height?: number;
  /** Shown in `data-points` (how many points the first series has): what tests and readers count. */
  testId?: string;
};

export function Chart({ title, opts, data, height = 260, testId }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot({ ...opts, title, width: Math.max(300, el.clientWidth), height }, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // created once; data changes go through setData below
  }, []);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  const points = Array.from((data[1] ?? []) as ArrayLike<number | null | undefined>).filter(
    (v) => v !== null && v !== undefined,
  ).length;
  return <div class="chart" ref={box} data-testid={testId} data-points={points} />;
}
