/**
 * Reverse-mode automatic differentiation over the graph's tape: walks recorded ops backwards from a
 * scalar loss and emits gradient nodes (in ONNX) for the requested values.
 */
import type { Graph, Value } from './graph.ts';
import { isFloat, sameShape } from './graph.ts';
import { add, zeros } from './ops.ts';

/** Emits d(loss)/d(w) for each `w` (a zero tensor where the loss does not depend on `w`). */
export function gradients(g: Graph, loss: Value, wrt: readonly Value[], seed?: Value): Value[] {
  const tape = g.tape.slice();
  const dep = new Set(wrt.map((v) => v.name));
  const relevant = tape.map((e) => {
    const r = e.inputs.some((i) => dep.has(i.name));
    if (r) for (const o of e.outputs) dep.add(o.name);
    return r;
  });
  if (!dep.has(loss.name)) throw new Error('internal: loss does not depend on any requested value');
  const grads = new Map<string, Value>();
  grads.set(loss.name, seed ?? g.constant(onesLike(loss), loss.shape, loss.dtype));
  const wasRecording = g.recording;
  g.recording = false;
  try {
    for (let k = tape.length - 1; k >= 0; k--) {
      if (!relevant[k]) continue;
      const e = tape[k];
      const dOuts = e.outputs.map((o) => grads.get(o.name) ?? null);
      if (dOuts.every((d) => d === null)) continue;
      const needs = e.inputs.map((i) => dep.has(i.name) && isFloat(i.dtype));
      if (!needs.some(Boolean)) continue;
      const dIns = e.backward(dOuts, needs);
      e.inputs.forEach((inp, i) => {
        const d = dIns[i];
        if (!needs[i] || !d) return;
        if (!sameShape(d.shape, inp.shape)) {
          throw new Error(`internal: gradient shape [${d.shape}] for ${inp.name} [${inp.shape}]`);
        }
        const prev = grads.get(inp.name);
        grads.set(inp.name, prev ? add(g, prev, d) : d);
      });
    }
  } finally {
    g.recording = wasRecording;
  }
  return wrt.map((w) => grads.get(w.name) ?? zeros(g, w.shape, w.dtype));
}

function onesLike(v: Value): Float32Array | Float64Array {
  const n = v.shape.reduce((a, b) => a * b, 1);
  return v.dtype === 'float64' ? new Float64Array(n).fill(1) : new Float32Array(n).fill(1);
}
