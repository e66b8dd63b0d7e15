import { describe, expect, it } from 'vitest';
import { Graph } from '../../../src/train/graph/graph.ts';
import { add, matmul } from '../../../src/train/graph/ops.ts';
import { decodeModel, encodeModel, IR_VERSION, OPSET } from '../../../src/train/onnx/proto.ts';
import { OnnxSession } from '../../../src/train/onnx/session.ts';

describe('ONNX encoding (protobufjs over a hand-written onnx.proto3 subset)', () => {
  it('writes IR 8 / opset 18 models that ONNX Runtime loads and runs, with symbolic dims', async () => {
    const g = new Graph();
    const x = g.input('x', [1, 3]);
    const w = g.constant(new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2], 'float32', 'w');
    const y = add(g, matmul(g, x, w), g.constant(new Float32Array([0.5, -0.5]), [2], 'float32'));
    g.output(y, 'y');
    // A dead node is pruned.
    add(g, x, x);
    const bytes = encodeModel(
      g.toOnnxModel('t', {
        symbolicDims: new Map([
          ['x', ['batch', 3]],
          ['y', ['batch', 2]],
        ]),
      }),
    );
    const m = decodeModel(bytes) as {
      ir_version: number;
      opset_import: { version: number }[];
      graph: {
        node: { op_type: string }[];
        input: { type: { tensor_type: { shape: { dim: unknown[] } } } }[];
      };
    };
    expect(m.ir_version).toBe(IR_VERSION);
    expect(IR_VERSION).toBe(8);
    expect(m.opset_import[0].version).toBe(OPSET);
    expect(OPSET).toBe(18);
    expect(m.graph.node.map((n) => n.op_type)).toEqual(['Gemm', 'Add']);
    expect(m.graph.input[0].type.tensor_type.shape.dim[0]).toEqual({ dim_param: 'batch' });
    const s = await OnnxSession.create(bytes, { threads: 1 });
    const out = await s.run({
      x: { data: new Float32Array([1, 1, 1, 2, 0, 0]), dims: [2, 3], dtype: 'float32' },
    });
    await s.release();
    expect(Array.from(out.y as Float32Array)).toEqual([9.5, 11.5, 2.5, 3.5]);
  });
});
