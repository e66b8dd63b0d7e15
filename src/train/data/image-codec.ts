/**
 * Image decoding and encoding (PNG via pngjs, JPEG via jpeg-js, both pure JS), and resampling to a
 * fixed size. The only place that touches the codec packages; everything returns plain arrays.
 */
import { createRequire } from 'node:module';
import { AgoraError } from '../../errors.ts';

/** An 8-bit image, `channels` interleaved values per pixel, row-major. */
export type RasterImage = { width: number; height: number; channels: 1 | 3 | 4; data: Uint8Array };

type PngModule = {
  PNG: {
    sync: {
      read(buf: Uint8Array): { width: number; height: number; data: Uint8Array };
      write(
        png: { width: number; height: number; data: Uint8Array },
        opts: { colorType: number; inputColorType: number; inputHasAlpha: boolean; bitDepth: 8 },
      ): Uint8Array;
    };
  };
};
type JpegModule = {
  decode(
    buf: Uint8Array,
    opts: { useTArray: true; formatAsRGBA: true; maxResolutionInMP: number; maxMemoryUsageInMB: number },
  ): { width: number; height: number; data: Uint8Array };
  encode(img: { width: number; height: number; data: Uint8Array }, quality: number): { data: Uint8Array };
};

const require = createRequire(import.meta.url);
let png: PngModule | undefined;
let jpeg: JpegModule | undefined;
const pngjs = () => {
  png ??= require('pngjs') as PngModule;
  return png;
};
const jpegjs = () => {
  jpeg ??= require('jpeg-js') as JpegModule;
  return jpeg;
};

/** Largest image accepted, in megapixels (a decompression-bomb guard). */
export const MAX_IMAGE_MEGAPIXELS = 50;

export type ImageKind = 'png' | 'jpeg';

/** The format of an image file from its magic bytes (undefined if neither PNG nor JPEG). */
export function sniffImage(bytes: Uint8Array): ImageKind | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return 'png';
  }
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Decodes a PNG or JPEG file's bytes to RGBA. `name` is for error messages. */
export function decodeImage(bytes: Uint8Array, name: string): RasterImage {
  const kind = sniffImage(bytes);
  if (!kind) {
    throw new AgoraError('DATA_BAD_IMAGE', `${name} is neither a PNG nor a JPEG file`, {
      hint: 'image folders hold .png, .jpg or .jpeg files only',
    });
  }
  try {
    const img =
      kind === 'png'
        ? pngjs().PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
        : jpegjs().decode(bytes, {
            useTArray: true,
            formatAsRGBA: true,
            maxResolutionInMP: MAX_IMAGE_MEGAPIXELS,
            maxMemoryUsageInMB: 1024,
          });
    if (img.width * img.height > MAX_IMAGE_MEGAPIXELS * 1e6) throw new Error('image too large');
    return {
      width: img.width,
      height: img.height,
      channels: 4,
      data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength),
    };
  } catch (e) {
    throw new AgoraError(
      'DATA_BAD_IMAGE',
      `${name} could not be decoded as ${kind}: ${(e as Error).message}`,
      {
        hint: `re-save the image, or remove it; images up to ${MAX_IMAGE_MEGAPIXELS} megapixels are accepted`,
        cause: e,
      },
    );
  }
}

/** Encodes an 8-bit grayscale or RGB image as PNG or JPEG (quality 1–100). */
export function encodeImage(img: RasterImage, kind: ImageKind, quality = 95): Uint8Array {
  if (kind === 'png') {
    const colorType = img.channels === 1 ? 0 : img.channels === 3 ? 2 : 6;
    const out = pngjs().PNG.sync.write(
      { width: img.width, height: img.height, data: img.data },
      { colorType, inputColorType: colorType, inputHasAlpha: img.channels === 4, bitDepth: 8 },
    );
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  const rgba = toChannels(img, 4);
  const out = jpegjs().encode({ width: img.width, height: img.height, data: rgba.data }, quality).data;
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Converts between 1 (luma), 3 (RGB) and 4 (RGBA) channels. Luma is ITU-R 601
 * (0.299 R + 0.587 G + 0.114 B, as PIL's "L" mode); alpha is dropped (not composited).
 */
export function toChannels(img: RasterImage, channels: 1 | 3 | 4): RasterImage {
  if (img.channels === channels) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * channels);
  const src = img.data;
  const c = img.channels;
  for (let i = 0; i < n; i++) {
    const r = src[i * c];
    const g = c === 1 ? r : src[i * c + 1];
    const b = c === 1 ? r : src[i * c + 2];
    if (channels === 1) out[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else {
      out[i * channels] = r;
      out[i * channels + 1] = g;
      out[i * channels + 2] = b;
      if (channels === 4) out[i * 4 + 3] = c === 4 ? src[i * 4 + 3] : 255;
    }
  }
  return { width: img.width, height: img.height, channels, data: out };
}

/** Resampling weights of a separable triangle (bilinear) filter, widened when shrinking (antialiased). */
function weights(
  inSize: number,
  outSize: number,
): { start: Int32Array; len: Int32Array; w: Float64Array; taps: number } {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const len = new Int32Array(outSize);
  const w = new Float64Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(center - support));
    const hi = Math.min(inSize, Math.ceil(center + support));
    let sum = 0;
    let k = 0;
    for (let i = lo; i < hi && k < taps; i++, k++) {
      const v = Math.max(0, 1 - Math.abs(i + 0.5 - center) / support);
      w[o * taps + k] = v;
      sum += v;
    }
    for (let j = 0; j < k; j++) w[o * taps + j] /= sum || 1;
    start[o] = lo;
    len[o] = k;
  }
  return { start, len, w, taps };
}

/**
 * Resizes to `width`×`height` with a separable triangle filter (bilinear when enlarging, an
 * antialiased average when shrinking, like PIL's BILINEAR). Aspect ratio is not kept (the image is
 * stretched), as with torchvision's `Resize((h, w))`.
 */
export function resizeImage(img: RasterImage, width: number, height: number): RasterImage {
  if (img.width === width && img.height === height) return img;
  const c = img.channels;
  const wx = weights(img.width, width);
  const wy = weights(img.height, height);
  // Horizontal pass into float rows, then vertical pass with rounding.
  const tmp = new Float64Array(img.height * width * c);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < wx.len[x]; k++) {
          acc += wx.w[x * wx.taps + k] * img.data[(y * img.width + wx.start[x] + k) * c + ch];
        }
        tmp[(y * width + x) * c + ch] = acc;
      }
    }
  }
  const out = new Uint8Array(height * width * c);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = 0; k < wy.len[y]; k++)
          acc += wy.w[y * wy.taps + k] * tmp[((wy.start[y] + k) * width + x) * c + ch];
        out[(y * width + x) * c + ch] = Math.min(255, Math.max(0, Math.round(acc)));
      }
    }
  }
  return { width, height, channels: img.channels, data: out };
}
