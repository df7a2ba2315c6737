import { describe, expect, it } from 'vitest';
import {
  currentTarget,
  decodeCodeCache,
  encodeCodeCache,
  sameTarget,
} from '../../../src/loader/code-cache-file.js';

/** The code cache file: a header naming what the cache was made for, then V8's bytes. */

const DIGEST = 'ab'.repeat(32);

describe('code cache file', () => {
  it('gives back the target and the bytes it was written with', () => {
    const data = Buffer.from([0, 1, 2, 10, 13, 255, 10]);
    const decoded = decodeCodeCache(encodeCodeCache(currentTarget(DIGEST), data));
    if (decoded === null || decoded === 'damaged') throw new Error(`decoded as ${decoded}`);
    expect(decoded.target).toEqual({
      bundleDigest: DIGEST,
      node: process.version,
      arch: process.arch,
    });
    expect(Buffer.compare(decoded.data, data)).toBe(0);
  });

  it('finds a damaged file: any byte of the cache changed, cut or added', () => {
    const data = Buffer.from('bytecode of the engine, as V8 serialised it');
    const file = encodeCodeCache(currentTarget(DIGEST), data);
    const headerBytes = file.length - data.length;
    for (let index = headerBytes; index < file.length; index++) {
      const flipped = Buffer.from(file);
      flipped[index] = (flipped[index] as number) ^ 0x01;
      expect(decodeCodeCache(flipped)).toBe('damaged');
    }
    expect(decodeCodeCache(file.subarray(0, file.length - 1))).toBe('damaged');
    expect(decodeCodeCache(Buffer.concat([file, Buffer.from([0])]))).toBe('damaged');
  });

  it('refuses bytes that are not a cache of ours', () => {
    const valid = encodeCodeCache(currentTarget(DIGEST), Buffer.from('v8'));
    const header = 'cartridge-vfs code cache 1\n';
    const cases = [
      Buffer.alloc(0),
      Buffer.from('cartridge-vfs code cache 2\n{}\n'),
      Buffer.from(`${header}{"bundleDigest":"x","node":"v20"}\n`),
      Buffer.from(`${header}{"bundleDigest":"x","node":"v20","arch":"x64"}\n`),
      Buffer.from(`${header}{"bundleDigest":1,"node":"v20","arch":"x64"}\n`),
      Buffer.from(`${header}not json\n`),
      Buffer.from(`${header}null\n`),
      Buffer.from(`${header}{"bundleDigest":"x","node":"v20","arch":"x64"}`),
      Buffer.concat([Buffer.from(header), Buffer.alloc(5000, 0x20), Buffer.from('\n')]),
      valid.subarray(0, 10),
    ];
    for (const bytes of cases) expect(decodeCodeCache(bytes)).toBeNull();
  });

  it('matches a target only on the same bundle, Node.js and architecture', () => {
    const target = currentTarget(DIGEST);
    expect(sameTarget(target, currentTarget(DIGEST))).toBe(true);
    expect(sameTarget(target, currentTarget('cd'.repeat(32)))).toBe(false);
    expect(sameTarget(target, { ...target, node: 'v0.0.0' })).toBe(false);
    expect(sameTarget(target, { ...target, arch: 'elsewhere' })).toBe(false);
  });
});
