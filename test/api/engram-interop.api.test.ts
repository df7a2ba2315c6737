import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Engram, type EngramEntry } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Interop with the reference implementation: archives written by engram-rs 1.1.1 itself
 * (`test/fixtures/engram-rs-1.1.1/`, see its README). Every positive archive opens, every file
 * comes back with the size and SHA-256 its manifest lists, and the signatures verify under the
 * test key; every negative archive gives its typed error or its failed check.
 */

const FIXTURES = fileURLToPath(new URL('../fixtures/engram-rs-1.1.1/', import.meta.url));
const TEST_PUBLIC_KEY = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';
const OTHER_PUBLIC_KEY = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const TEXT_SMALL_FILES = [
  'README.md',
  'data/config.json',
  'data/table.csv',
  'docs/guide.md',
  'docs/notes.txt',
  'hello.txt',
  'src/app.js',
];

function fixture(name: string): string {
  return `${FIXTURES}${name}`;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function withArchive<T>(name: string, body: (engram: Engram) => T): T {
  const engram = Engram.open(fixture(name));
  try {
    return body(engram);
  } finally {
    engram.close();
  }
}

function byPath(engram: Engram): Map<string, EngramEntry> {
  return new Map(engram.list().map((entry) => [entry.path, entry]));
}

/** Every file the manifest lists reads back with its size and SHA-256. */
function expectManifestContent(engram: Engram): void {
  const manifest = engram.manifest();
  expect(manifest).not.toBeNull();
  for (const file of manifest?.files ?? []) {
    const content = engram.readFile(file.path);
    expect(content.length, file.path).toBe(file.size);
    expect(sha256(content), file.path).toBe(file.sha256);
  }
}

describe('Engram archives written by engram-rs 1.1.1', () => {
  it('checks the fixtures against their SHA256SUMS', () => {
    const sums = readFileSync(fixture('SHA256SUMS'), 'utf8').trim().split('\n');
    expect(sums.length).toBe(12);
    for (const line of sums) {
      const [digest, name] = line.split(/\s+/) as [string, string];
      expect(sha256(readFileSync(fixture(name))), name).toBe(digest);
    }
  });

  it('opens text-small: entry 0 is the stored manifest, methods as the writer chose them', () => {
    withArchive('text-small.eng', (engram) => {
      expect(engram.version).toBe('1.0');
      const entries = engram.list();
      expect(entries[0]?.path).toBe('manifest.json');
      expect(entries[0]?.compression).toBe('none');
      expect(entries.slice(1).map((entry) => entry.path)).toEqual(TEXT_SMALL_FILES);
      const found = byPath(engram);
      expect(found.get('README.md')).toMatchObject({ sizeBytes: 3000, compression: 'none' });
      expect(found.get('hello.txt')).toMatchObject({ sizeBytes: 15, compression: 'none' });
      expect(found.get('docs/notes.txt')).toMatchObject({ sizeBytes: 4096, compression: 'zstd' });
      expect(found.get('src/app.js')?.compression).toBe('zstd');
      expectManifestContent(engram);
      const manifest = engram.manifest();
      expect(manifest?.version).toBe('0.4.0');
      expect(manifest?.id).toBe('text-small');
      expect(manifest?.author).toEqual({ name: 'engram-ref' });
      expect(manifest?.signatures[0]?.signer).toBe('engram-ref test key');
      const report = engram.verify(TEST_PUBLIC_KEY);
      expect(report).toMatchObject({
        hasManifest: true,
        signed: true,
        trusted: true,
        valid: true,
        fileMismatches: [],
        unreadable: [],
        filesChecked: 7,
      });
      expect(engram.verify(OTHER_PUBLIC_KEY)).toMatchObject({ signed: true, trusted: false, valid: false });
    });
  });

  it('opens an archive without a manifest: files read, nothing is signed', () => {
    withArchive('text-small-unsigned-nomanifest.eng', (engram) => {
      expect(engram.manifest()).toBeNull();
      expect(engram.list().map((entry) => entry.path)).toEqual(TEXT_SMALL_FILES);
      withArchive('text-small.eng', (signed) => {
        for (const path of TEXT_SMALL_FILES) expect(engram.readFile(path)).toEqual(signed.readFile(path));
      });
      expect(engram.verify()).toMatchObject({ hasManifest: false, signed: false, valid: false });
    });
  });

  it('opens lz4-binary: size-prefixed LZ4 blocks, and incompressible data stored', () => {
    withArchive('lz4-binary.eng', (engram) => {
      const found = byPath(engram);
      expect(found.get('blob.bin')).toMatchObject({ sizeBytes: 100_000, compression: 'lz4' });
      expect(found.get('lib/module.wasm')).toMatchObject({ sizeBytes: 50_000, compression: 'lz4' });
      expect(found.get('noext')).toMatchObject({ sizeBytes: 4096, compression: 'lz4' });
      expect(found.get('records.dat')).toMatchObject({ sizeBytes: 640_000, compression: 'lz4' });
      expect(found.get('random.bin')).toMatchObject({ sizeBytes: 10_000, compression: 'none' });
      expect(found.get('tiny.bin')).toMatchObject({ sizeBytes: 100, compression: 'none' });
      expectManifestContent(engram);
      expect(engram.verify(TEST_PUBLIC_KEY).valid).toBe(true);
    });
  });

  for (const [name, path, method] of [
    ['frames-zstd.eng', 'big.txt', 'zstd'],
    ['frames-lz4.eng', 'big.dat', 'lz4'],
  ] as const) {
    it(`opens ${name}: a frame container of 961 frames`, () => {
      withArchive(name, (engram) => {
        const entry = byPath(engram).get(path);
        expect(entry).toMatchObject({ sizeBytes: 62_926_905, compression: method, framed: true });
        expectManifestContent(engram);
        expect(engram.verify(TEST_PUBLIC_KEY).valid).toBe(true);
      });
    });
  }

  it('opens edge: an empty file, a 255-byte path, a deep path, a UTF-8 path', () => {
    withArchive('edge.eng', (engram) => {
      const found = byPath(engram);
      expect(found.get('empty.txt')).toMatchObject({ sizeBytes: 0, crc32: 0 });
      expect(engram.readFile('empty.txt').length).toBe(0);
      const longest = engram.list().find((entry) => Buffer.byteLength(entry.path) === 255);
      expect(longest).toBeDefined();
      expect(engram.list().some((entry) => entry.path.split('/').length === 21)).toBe(true);
      expect(found.get('ünïcødé/файл.txt')).toBeDefined();
      expect(found.get('photo.png')).toMatchObject({ sizeBytes: 8000, compression: 'none' });
      expect(found.get('store.db')).toMatchObject({ sizeBytes: 30_000, compression: 'zstd' });
      expect(found.get('script.ts')?.compression).toBe('zstd');
      expectManifestContent(engram);
      expect(engram.verify(TEST_PUBLIC_KEY).valid).toBe(true);
      const view = engram.view();
      expect(view.readFile('/ünïcødé/файл.txt')).toEqual(engram.readFile('ünïcødé/файл.txt'));
      expect(view.listDir('/')).toContain('ünïcødé');
      expect(view.exists('/ünïcødé/')).toBe(true);
      expect(view.metadata('/empty.txt')).toMatchObject({ type: 'file', sizeBytes: 0 });
      expectCode(() => view.readFile('/ünïcødé'), 'EISDIR');
      expectCode(() => view.listDir('/empty.txt'), 'ENOTDIR');
      expectCode(() => view.readFile('/missing'), 'ENOENT');
      expectCode(() => view.writeFile('/x', 'y'), 'READ_ONLY');
      expectCode(() => view.createFile('/x', 'y'), 'READ_ONLY');
      expectCode(() => view.rename('/empty.txt', '/y'), 'READ_ONLY');
    });
  });

  it('reports the tampered manifest: entries read, the signature is invalid', () => {
    withArchive('negative/tampered-manifest.eng', (engram) => {
      for (const path of TEXT_SMALL_FILES) expect(engram.readFile(path).length).toBeGreaterThan(0);
      const report = engram.verify(TEST_PUBLIC_KEY);
      expect(report.signatures.map((check) => check.valid)).toEqual([false]);
      expect(report).toMatchObject({ signed: false, trusted: false, valid: false });
    });
  });

  it('refuses the corrupt payload by its CRC-32', () => {
    withArchive('negative/corrupt-payload.eng', (engram) => {
      expectCode(() => engram.readFile('data/config.json'), 'ENGRAM_CORRUPT');
      expect(engram.readFile('hello.txt').length).toBe(15);
      const report = engram.verify(TEST_PUBLIC_KEY);
      expect(report.unreadable).toEqual(['data/config.json']);
      expect(report.valid).toBe(false);
    });
  });

  for (const [name, code] of [
    ['negative/trailing.eng', 'ENGRAM_CORRUPT'],
    ['negative/truncated.eng', 'ENGRAM_CORRUPT'],
    ['negative/major2.eng', 'ENGRAM_UNSUPPORTED'],
    ['negative/cent-pathlen300.eng', 'ENGRAM_CORRUPT'],
  ] as const) {
    it(`refuses ${name} at open with ${code}`, () => {
      expectCode(() => Engram.open(fixture(name)), code);
    });
  }

  it('refuses a missing archive with ENOENT and reads nothing after close', () => {
    expectCode(() => Engram.open(fixture('missing.eng')), 'ENOENT');
    const engram = Engram.open(fixture('text-small.eng'));
    engram.close();
    expectCode(() => engram.list(), 'CARTRIDGE_CLOSED');
  });
});
