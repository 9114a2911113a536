import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { sha256, sha256Hex, sha256HexAsync } from './sha256';

const enc = (s: string) => new TextEncoder().encode(s);
const nodeHex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('sha256Hex', () => {
  it('matches the FIPS 180-4 / NIST test vectors', () => {
    expect(sha256Hex(enc(''))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex(enc('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // 448-bit message: the padding spills into a second block.
    expect(sha256Hex(enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(
      sha256Hex(
        enc(
          'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
        ),
      ),
    ).toBe('cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1');
    expect(sha256Hex(new Uint8Array(1_000_000).fill(0x61))) // one million 'a'
      .toBe('cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  it('agrees with node:crypto on every length around the block boundaries', () => {
    const buf = new Uint8Array(randomBytes(300));
    for (let n = 0; n <= 300; n++)
      expect(sha256Hex(buf.subarray(0, n)), `length ${n}`).toBe(nodeHex(buf.subarray(0, n)));
  });

  it('agrees with node:crypto on a 1 MB random buffer, a subarray view and an ArrayBuffer', () => {
    const buf = new Uint8Array(randomBytes(1 << 20));
    expect(sha256Hex(buf)).toBe(nodeHex(buf));
    const view = buf.subarray(7, 7 + 100_003);
    expect(sha256Hex(view)).toBe(nodeHex(view));
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    expect(sha256Hex(ab)).toBe(nodeHex(buf));
    expect(Buffer.from(sha256(buf)).toString('hex')).toBe(nodeHex(buf));
  });

  it('hashes 8 MiB fast enough for shard checks', () => {
    const buf = new Uint8Array(8 << 20);
    const t = performance.now();
    sha256Hex(buf);
    expect(performance.now() - t).toBeLessThan(6000); // generous: the CI machine may be busy
  });
});

describe('sha256HexAsync', () => {
  it('gives the same digest with WebCrypto and without it (pure fallback)', async () => {
    const buf = new Uint8Array(randomBytes(100_000));
    expect(globalThis.crypto?.subtle).toBeDefined();
    expect(await sha256HexAsync(buf)).toBe(nodeHex(buf));
    expect(await sha256HexAsync(buf.buffer.slice(0))).toBe(nodeHex(buf));
    vi.stubGlobal('crypto', undefined);
    try {
      expect(globalThis.crypto).toBeUndefined();
      expect(await sha256HexAsync(buf)).toBe(nodeHex(buf));
      expect(await sha256HexAsync(enc('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    } finally {
      vi.unstubAllGlobals();
    }
    expect(globalThis.crypto?.subtle).toBeDefined();
  });
});
