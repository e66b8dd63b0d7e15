/**
 * The seeded random stream of the synthetic example generators (scripts/gen-*-example.ts): xorshift32
 * in [0, 1), a Box–Muller standard normal and a uniform pick. The same seed writes the same file.
 */
export function seededRandom(seed: number) {
  let s = seed;
  const rand = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  return { rand, normal, pick };
}
