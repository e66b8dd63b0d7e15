/**
 * The graph builder: a static-shape tensor graph that records ONNX nodes and, for every
 * differentiable op, a backward rule on a tape (consumed by `autodiff.ts`). Pure: no ONNX Runtime
 * here; `toOnnxModel()` produces the plain model that `src/train/onnx/proto.ts` serializes.
 */
import type { OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from '../onnx/proto.ts';
import { ATTR_TYPE, ONNX_DTYPE } from '../onnx/proto.ts';

export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool';
export type Shape = readonly number[];

/** A symbolic tensor: a named graph value with a static shape. */
export type Value = { readonly name: string; readonly shape: Shape; readonly dtype: DType };

export type Attr =
  | { kind: 'int'; v: number }
  | { kind: 'float'; v: number }
  | { kind: 'ints'; v: readonly number[] }
  | { kind: 'floats'; v: readonly number[] }
  | { kind: 'string'; v: string };

export const int = (v: number): Attr => ({ kind: 'int', v });
export const float = (v: number): Attr => ({ kind: 'float', v });
export const ints = (v: readonly number[]): Attr => ({ kind: 'ints', v });
export const str = (v: string): Attr => ({ kind: 'string', v });

export type GraphNode = {
  op: string;
  domain: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs: Readonly<Record<string, Attr>>;
};

/**
 * Backward rule of one recorded op: given the gradients of its outputs (null where none flows),
 * returns the gradients of its inputs (null where not needed; `needs[i]` says which are wanted).
 */
export type BackwardFn = (dOuts: readonly (Value | null)[], needs: readonly boolean[]) => (Value | null)[];

export type TapeEntry = { inputs: readonly Value[]; outputs: readonly Value[]; backward: BackwardFn };

export type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64';
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy-style broadcast of two shapes. */
export function broadcastShape(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`internal: shapes [${a}] and [${b}] do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

function toBytes(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, { value: Value; data: TypedData }>();
  readonly tape: TapeEntry[] = [];
  private counter = 0;
  /** While false (during autodiff's backward sweep), ops are not recorded on the tape. */
  recording = true;
  private readonly constCache = new Map<string, Value>();
  private readonly renames = new Map<string, string>();
  usesMicrosoftDomain = false;

  /** A fresh unique value name. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, shape: Shape, dtype: DType = 'float32'): Value {
    const v: Value = { name, shape: [...shape], dtype };
    this.inputs.push(v);
    return v;
  }

  /** A constant tensor (stored as an initializer). Small constants are deduplicated by content. */
  constant(data: TypedData, shape: Shape, dtype: DType, name?: string): Value {
    let key: string | undefined;
    if (name === undefined && data.length <= 16) {
      key = `${dtype}|${shape.join(',')}|${Array.from(data as ArrayLike<number | bigint>).join(',')}`;
      const hit = this.constCache.get(key);
      if (hit) return hit;
    }
    const v: Value = { name: name ?? this.fresh('c'), shape: [...shape], dtype };
    this.initializers.set(v.name, { value: v, data });
    if (key) this.constCache.set(key, v);
    return v;
  }

  /** A float scalar constant of the given dtype. */
  scalar(x: number, dtype: DType = 'float32'): Value {
    if (dtype === 'float64') return this.constant(new Float64Array([x]), [], dtype);
    if (dtype === 'float32') return this.constant(new Float32Array([x]), [], dtype);
    if (dtype === 'int64') return this.constant(new BigInt64Array([BigInt(x)]), [], dtype);
    if (dtype === 'int32') return this.constant(new Int32Array([x]), [], dtype);
    throw new Error(`internal: no scalar of ${dtype}`);
  }

  /** An int64 1-D constant (shapes, axes, split sizes). */
  int64s(xs: readonly number[]): Value {
    return this.constant(new BigInt64Array(xs.map((x) => BigInt(x))), [xs.length], 'int64');
  }

  /**
   * Records one ONNX node. `outs` gives each output's shape/dtype (and optionally a fixed name).
   * When `backward` is given, the op is recorded on the tape for autodiff.
   */
  node(
    op: string,
    inputs: readonly (Value | null)[],
    outs: readonly { shape: Shape; dtype: DType; name?: string }[],
    attrs: Record<string, Attr> = {},
    opts: { domain?: string; backward?: BackwardFn; tapeInputs?: readonly Value[] } = {},
  ): Value[] {
    const outputs: Value[] = outs.map((o) => ({
      name: o.name ?? this.fresh(op.toLowerCase()),
      shape: [...o.shape],
      dtype: o.dtype,
    }));
    const domain = opts.domain ?? '';
    if (domain === 'com.microsoft') this.usesMicrosoftDomain = true;
    this.nodes.push({
      op,
      domain,
      inputs: inputs.map((v) => (v === null ? '' : v.name)),
      outputs: outputs.map((v) => v.name),
      attrs,
    });
    if (opts.backward && this.recording) {
      const tapeInputs = opts.tapeInputs ?? inputs.filter((v): v is Value => v !== null);
      this.tape.push({ inputs: tapeInputs, outputs, backward: opts.backward });
    }
    return outputs;
  }

  /** Marks `v` as a graph output, optionally renaming the value where it is produced (no Identity copy). */
  output(v: Value, name?: string): Value {
    if (name !== undefined && name !== v.name) {
      if (this.inputs.some((i) => i.name === v.name) || this.initializers.has(v.name)) {
        throw new Error(`internal: cannot rename graph input/initializer ${v.name} to output ${name}`);
      }
      this.renames.set(v.name, name);
    }
    const out: Value = { name: name ?? v.name, shape: v.shape, dtype: v.dtype };
    this.outputs.push(out);
    return out;
  }

  /** The plain ONNX model (renames applied; unused nodes and initializers pruned). */
  toOnnxModel(
    graphName: string,
    opts: { symbolicDims?: ReadonlyMap<string, readonly (number | string)[]> } = {},
  ): OnnxModel {
    const rn = (n: string) => (n === '' ? '' : (this.renames.get(n) ?? n));
    // Prune nodes that do not reach an output.
    const live = new Set<string>(this.outputs.map((o) => o.name));
    const keep: boolean[] = new Array(this.nodes.length).fill(false);
    for (let k = this.nodes.length - 1; k >= 0; k--) {
      const n = this.nodes[k];
      if (n.outputs.some((o) => live.has(rn(o)))) {
        keep[k] = true;
        for (const i of n.inputs) if (i !== '') live.add(rn(i));
      }
    }
    const nodes: OnnxNode[] = [];
    this.nodes.forEach((n, k) => {
      if (!keep[k]) return;
      nodes.push({
        opType: n.op,
        domain: n.domain,
        inputs: n.inputs.map(rn),
        outputs: n.outputs.map(rn),
        attributes: Object.entries(n.attrs).map(([name, a]) => encodeAttr(name, a)),
      });
    });
    const vi = (v: Value): OnnxValueInfo => ({
      name: v.name,
      elemType: ONNX_DTYPE[v.dtype],
      dims: opts.symbolicDims?.get(v.name) ?? v.shape,
    });
    const initializers: OnnxTensor[] = [];
    for (const { value, data } of this.initializers.values()) {
      if (!live.has(value.name)) continue;
      initializers.push({
        name: value.name,
        dataType: ONNX_DTYPE[value.dtype],
        dims: value.shape,
        raw: toBytes(data),
      });
    }
    return {
      graphName,
      nodes,
      inputs: this.inputs.map(vi),
      outputs: this.outputs.map(vi),
      initializers,
      extraOpsets: this.usesMicrosoftDomain ? [{ domain: 'com.microsoft', version: 1 }] : [],
    };
  }
}

function encodeAttr(name: string, a: Attr): OnnxAttribute {
  switch (a.kind) {
    case 'int':
      return { name, type: ATTR_TYPE.INT, i: a.v };
    case 'float':
      return { name, type: ATTR_TYPE.FLOAT, f: a.v };
    case 'ints':
      return { name, type: ATTR_TYPE.INTS, ints: [...a.v] };
    case 'floats':
      return { name, type: ATTR_TYPE.FLOATS, floats: [...a.v] };
    case 'string':
      return { name, type: ATTR_TYPE.STRING, s: new TextEncoder().encode(a.v) };
  }
}
