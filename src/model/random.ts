/**
 * The one seeded random number generator of the project (the seeded initialisation, the tests, the self-test):
 * xoshiro128** seeded by splitmix32, uniform floats in [0, 1) and N(0, 1).
 */

/** splitmix32: a well-mixed 32-bit sequence from one state (used only to seed xoshiro). */
function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A small seeded PRNG (xoshiro128**): uniform floats in [0, 1) with 32-bit resolution, and N(0, 1). */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  /** `seed`: a safe integer ≥ 0; `stream`: a 32-bit stream id (e.g. a name hash). */
  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be an integer ≥ 0, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x100000000) >>> 0;
    const sm = splitmix32(lo ^ Math.imul(hi, 0x27d4eb2f) ^ Math.imul(stream >>> 0, 0x165667b1));
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is forbidden
  }

  /** Next 32-bit output, unsigned. */
  nextU32(): number {
    const r = Math.imul((Math.imul(this.b, 5) << 7) | (Math.imul(this.b, 5) >>> 25), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = (this.d << 11) | (this.d >>> 21);
    return r >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Standard normal N(0, 1) by Box–Muller (both outputs of a pair are used). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const th = 2 * Math.PI * u2;
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
}

/** `new Rng(seed)` as a plain uniform-[0, 1) function. */
export function uniformSource(seed: number, stream = 0): () => number {
  const r = new Rng(seed, stream);
  return () => r.uniform();
}
