import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, Engram, type FreezeOptions, type WriteProgress } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';
import { FaultStorage } from '../support/fault-storage.js';

/**
 * Freeze and thaw through the public API: what the archive holds (files, manifest, provenance,
 * capabilities), freezing a past state by offset, snapshot name and date, the operation gate
 * (a denied file leaves nothing at the path; each file read is audited), signatures that fail
 * after any change, the path limit, progress, codecs including the frame container, and thaw.
 */

const SEED = Buffer.from(Array.from({ length: 32 }, (_, index) => index));
const PUBLIC_KEY = '03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8';
const START_MS = 1_800_000_000_000;
const BASE: FreezeOptions = { name: 'test', version: '1.0.0', author: 'tester' };

function clockAt(startMs: number): { now(): number; nowMs(): number; advance(ms: number): void } {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    nowMs: () => performance.now(),
    advance: (ms) => {
      nowMs += ms;
    },
  };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-freeze-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

function withEngram<T>(path: string, body: (engram: Engram) => T): T {
  const engram = Engram.open(path);
  try {
    return body(engram);
  } finally {
    engram.close();
  }
}

function sampleCartridge(): Cartridge {
  const cart = Cartridge.create(join(directory, 'sample.cart'), { clock: clockAt(START_MS) });
  cart.createDir('/docs', { recursive: true });
  cart.createDir('/empty/inner', { recursive: true });
  cart.createFile('/hello.txt', 'hello, engram\n');
  cart.createFile('/docs/guide.md', '# Guide\n'.repeat(2000));
  cart.createFile('/data.bin', Buffer.alloc(10_000, 7));
  return cart;
}

describe('cartridge.freeze', () => {
  it('writes every live file, the manifest first, and cartridge.json listed in it', () => {
    const cart = sampleCartridge();
    const out = join(directory, 'out.eng');
    const result = cart.freeze(out, { ...BASE, description: 'a sample', compression: 'auto' });
    expect(result).toMatchObject({ path: out, fileCount: 3, entryCount: 5, offset: cart.head });
    withEngram(out, (engram) => {
      expect(engram.list().map((entry) => entry.path)).toEqual([
        'manifest.json',
        'cartridge.json',
        'data.bin',
        'docs/guide.md',
        'hello.txt',
      ]);
      const found = new Map(engram.list().map((entry) => [entry.path, entry]));
      expect(found.get('hello.txt')?.compression).toBe('none');
      expect(found.get('docs/guide.md')?.compression).toBe('zstd');
      expect(found.get('data.bin')?.compression).toBe('lz4');
      expect(engram.readFile('docs/guide.md')).toEqual(cart.readFile('/docs/guide.md'));
      const manifest = engram.manifest();
      expect(manifest).toMatchObject({
        version: '0.4.0',
        name: 'test',
        description: 'a sample',
        author: { name: 'tester' },
        metadata: { version: '1.0.0', created: START_MS / 1000, tags: [] },
        capabilities: [],
        signatures: [],
      });
      expect(manifest?.files.map((file) => file.path)).toEqual([
        'cartridge.json',
        'data.bin',
        'docs/guide.md',
        'hello.txt',
      ]);
      for (const file of manifest?.files ?? []) {
        expect(sha256(engram.readFile(file.path))).toBe(file.sha256);
      }
      const provenance = JSON.parse(engram.readFile('cartridge.json').toString('utf8'));
      expect(provenance).toMatchObject({
        cartridge_id: cart.cartridgeId,
        offset: cart.head,
        snapshot: null,
        empty_directories: ['/empty/inner'],
      });
      expect(provenance.head_hash).toMatch(/^[0-9a-f]{64}$/);
      const report = engram.verify();
      expect(report).toMatchObject({ signed: false, fileMismatches: [], unreadable: [] });
    });
    cart.close();
  });

  it('honours every compression setting, and stores what does not shrink', () => {
    const cart = sampleCartridge();
    cart.createFile(
      '/noise.txt',
      Buffer.from(Array.from({ length: 8192 }, () => Math.floor(Math.random() * 256))),
    );
    for (const compression of ['zstd', 'lz4', 'none'] as const) {
      const out = join(directory, `${compression}.eng`);
      cart.freeze(out, { ...BASE, compression });
      withEngram(out, (engram) => {
        const found = new Map(engram.list().map((entry) => [entry.path, entry]));
        expect(found.get('docs/guide.md')?.compression).toBe(compression);
        expect(found.get('noise.txt')?.compression).toBe('none');
        expect(engram.readFile('noise.txt')).toEqual(cart.readFile('/noise.txt'));
        expect(engram.verify().fileMismatches).toEqual([]);
      });
    }
    cart.close();
  });

  it('freezes the state at an offset, a snapshot name and a date', () => {
    const clock = clockAt(START_MS);
    const cart = Cartridge.create(join(directory, 'past.cart'), { clock });
    cart.createFile('/a.txt', 'version one');
    const offsetOne = cart.head;
    clock.advance(60_000);
    cart.createSnapshot('v1');
    clock.advance(60_000);
    cart.writeFile('/a.txt', 'version two');
    cart.createFile('/b.txt', 'new in two');
    const dateTwo = new Date(clock.now());
    clock.advance(60_000);
    cart.deleteFile('/b.txt');
    const expectations: [string, FreezeOptions['at'], Record<string, string>][] = [
      ['offset', offsetOne, { 'a.txt': 'version one' }],
      ['snapshot', 'v1', { 'a.txt': 'version one' }],
      ['date', dateTwo, { 'a.txt': 'version two', 'b.txt': 'new in two' }],
      ['head', undefined, { 'a.txt': 'version two' }],
    ];
    for (const [label, at, files] of expectations) {
      const out = join(directory, `${label}.eng`);
      const result = cart.freeze(out, { ...BASE, at });
      withEngram(out, (engram) => {
        const paths = engram
          .list()
          .map((entry) => entry.path)
          .filter((path) => !path.endsWith('.json'));
        expect(paths, label).toEqual(Object.keys(files));
        for (const [path, text] of Object.entries(files)) {
          expect(engram.readFile(path).toString(), label).toBe(text);
        }
        const provenance = JSON.parse(engram.readFile('cartridge.json').toString());
        expect(provenance.offset, label).toBe(result.offset);
        expect(provenance.snapshot, label).toBe(label === 'snapshot' ? 'v1' : null);
      });
    }
    expect(cart.freeze(join(directory, 'o.eng'), { ...BASE, at: offsetOne }).offset).toBe(
      offsetOne,
    );
    expectCode(
      () => cart.freeze(join(directory, 'x.eng'), { ...BASE, at: 'nope' }),
      'SNAPSHOT_NOT_FOUND',
    );
    cart.close();
  });

  it('reads each file through the gate: a denied file means EACCES and no archive', () => {
    const cart = Cartridge.create(join(directory, 'iam.cart'), { actor: 'admin', audit: true });
    cart.createDir('/public');
    cart.createDir('/secret');
    cart.createFile('/public/a.txt', 'public');
    cart.createFile('/secret/b.txt', 'secret');
    cart.setPolicy({
      Statement: [
        {
          Sid: 'Admin',
          Effect: 'Allow',
          Action: 'All',
          Resource: '/**',
          Condition: { StringEquals: { 'cartridge:actor': 'admin' } },
        },
        { Sid: 'Public', Effect: 'Allow', Action: ['Read', 'List'], Resource: '/public/**' },
      ],
    });
    const out = join(directory, 'denied.eng');
    expectCode(() => cart.as('reader').freeze(out, BASE), 'EACCES');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(directory).filter((name) => name.includes('.eng'))).toEqual([]);

    const allowed = join(directory, 'allowed.eng');
    cart.freeze(allowed, BASE);
    withEngram(allowed, (engram) => {
      expect(engram.manifest()?.capabilities).toEqual(['*:**', 'read:public/**', 'list:public/**']);
    });
    const reads = cart
      .audit({ action: 'Read' })
      .map((entry) => [entry.actor, entry.path, entry.allowed]);
    expect(reads).toContainEqual(['reader', '/public/a.txt', true]);
    expect(reads).toContainEqual(['reader', '/secret/b.txt', false]);
    expect(reads).toContainEqual(['admin', '/secret/b.txt', true]);
    cart.close();
  });

  it('signs the manifest; any changed byte of a signed file or of the manifest fails verify', () => {
    const cart = sampleCartridge();
    const out = join(directory, 'signed.eng');
    cart.freeze(out, { ...BASE, signingKey: SEED, signer: 'test key' });
    withEngram(out, (engram) => {
      const report = engram.verify(PUBLIC_KEY);
      expect(report).toMatchObject({ signed: true, trusted: true, valid: true });
      expect(report.signatures[0]).toMatchObject({
        publicKey: PUBLIC_KEY,
        signer: 'test key',
        valid: true,
      });
    });
    const original = readFileSync(out);
    const targets = withEngram(out, (engram) =>
      engram
        .list()
        .map((entry) => ({ path: entry.path, offset: payloadOffsetOf(original, entry.path) })),
    );
    for (const { path, offset } of targets) {
      const changed = Buffer.from(original);
      changed[offset] = (changed[offset] as number) ^ 0x01;
      const damaged = join(directory, 'damaged.eng');
      writeFileSync(damaged, changed);
      let valid: boolean;
      try {
        valid = withEngram(damaged, (engram) => engram.verify(PUBLIC_KEY).valid);
      } catch (error) {
        expect((error as { code?: string }).code, path).toMatch(/^ENGRAM_/);
        valid = false;
      }
      expect(valid, path).toBe(false);
    }
    // With the CRCs fixed as well, only the signature and the manifest's digests can tell.
    for (const path of ['manifest.json', 'hello.txt']) {
      const changed = Buffer.from(original);
      const payload = payloadOffsetOf(changed, path);
      // Inside a value: the manifest still parses, only its signature can tell.
      const offset =
        path === 'manifest.json' ? changed.indexOf('"name":"test"', payload) + 10 : payload + 2;
      changed[offset] = (changed[offset] as number) ^ 0x01;
      fixCrc(changed, path);
      const damaged = join(directory, 'recrc.eng');
      writeFileSync(damaged, changed);
      withEngram(damaged, (engram) => {
        const report = engram.verify(PUBLIC_KEY);
        expect(report.valid, path).toBe(false);
        if (path === 'manifest.json') expect(report.signed).toBe(false);
        else expect(report.fileMismatches).toEqual([path]);
      });
    }
    cart.close();
  });

  it('refuses a path over 255 bytes before writing anything', () => {
    const cart = Cartridge.create(join(directory, 'long.cart'));
    const deep = `/${'d'.repeat(200)}/${'f'.repeat(60)}`;
    cart.createDir(`/${'d'.repeat(200)}`);
    cart.createFile(deep, 'x');
    const out = join(directory, 'long.eng');
    expectCode(() => cart.freeze(out, BASE), 'ENAMETOOLONG');
    expect(readdirSync(directory).filter((name) => name.includes('.eng'))).toEqual([]);
    cart.close();
  });

  it('refuses a file named like the entries freeze adds', () => {
    const cart = Cartridge.create(join(directory, 'clash.cart'));
    cart.createFile('/manifest.json', '{}');
    expectCode(() => cart.freeze(join(directory, 'clash.eng'), BASE), 'EEXIST');
    cart.close();
  });

  it('reports progress up to the total and checks its options', () => {
    const cart = sampleCartridge();
    const seen: WriteProgress[] = [];
    cart.freeze(join(directory, 'p.eng'), {
      ...BASE,
      onProgress: (progress) => seen.push(progress),
    });
    const last = seen[seen.length - 1];
    expect(last?.bytesDone).toBe(last?.bytesTotal);
    expect(
      seen.every(
        (step, index) =>
          index === 0 || step.bytesDone >= (seen[index - 1] as WriteProgress).bytesDone,
      ),
    ).toBe(true);
    const out = join(directory, 'bad.eng');
    expectCode(
      () => cart.freeze(out, { ...BASE, compression: 'brotli' as 'zstd' }),
      'INVALID_ARGUMENT',
    );
    expectCode(
      () => cart.freeze(out, { ...BASE, name: 3 as unknown as string }),
      'INVALID_ARGUMENT',
    );
    expectCode(
      () => cart.freeze(out, { ...BASE, signingKey: Buffer.alloc(5) }),
      'INVALID_ARGUMENT',
    );
    cart.close();
  });

  it('frame-compresses a file of 50 MiB or more, and reads it back', () => {
    const cart = Cartridge.create(join(directory, 'big.cart'));
    const sizeBytes = 52_428_800 + 12_345;
    const content = Buffer.alloc(sizeBytes);
    for (let offset = 0; offset + 4 <= sizeBytes; offset += 4)
      content.writeUInt32LE((offset * 2654435761) >>> 16, offset);
    cart.createFile('/big.dat', content);
    const out = join(directory, 'big.eng');
    cart.freeze(out, { ...BASE, compression: 'lz4' });
    withEngram(out, (engram) => {
      const entry = engram.list().find((item) => item.path === 'big.dat');
      expect(entry).toMatchObject({ sizeBytes, compression: 'lz4', framed: true });
      expect(engram.readFile('big.dat').equals(content)).toBe(true);
      const raw = readFileSync(out);
      expect(raw.readUInt32LE(payloadOffsetOf(raw, 'big.dat'))).toBe(Math.ceil(sizeBytes / 65_536));
    });
    cart.close();
  });
});

describe('freeze on failing storage', () => {
  for (const [operation, errorCode, expected] of [
    ['write', 'ENOSPC', 'ENOSPC'],
    ['write', 'EIO', 'IO_ERROR'],
    ['sync', 'EIO', 'IO_ERROR'],
    ['open', 'EROFS', 'IO_ERROR'],
  ] as const) {
    it(`turns a failed ${operation} (${errorCode}) into ${expected} and leaves no archive`, () => {
      const storage = new FaultStorage(7);
      const cart = Cartridge.create('/mem/fault.cart', { storage, durability: 'full' });
      cart.createFile('/a.txt', 'alpha '.repeat(2000));
      cart.createFile('/b.txt', 'bravo');
      cart.flush();
      storage.failOn({ operation, nth: 1, errorCode, persistent: true });
      expectCode(() => cart.freeze('/mem/out.eng', BASE), expected);
      storage.clearFailures();
      expect(storage.exists('/mem/out.eng')).toBe(false);
      cart.freeze('/mem/out.eng', BASE);
      const engram = Engram.open('/mem/out.eng', { storage });
      expect(engram.readFile('b.txt').toString()).toBe('bravo');
      engram.close();
      cart.close();
    });
  }
});

describe('Cartridge.fromEngram', () => {
  it('thaws a frozen cartridge: the same files and empty directories', () => {
    const cart = sampleCartridge();
    const out = join(directory, 'thaw.eng');
    cart.freeze(out, BASE);
    const thawed = Cartridge.fromEngram(out, join(directory, 'thawed.cart'));
    expect(thawed.listDir('/').sort()).toEqual(['data.bin', 'docs', 'empty', 'hello.txt']);
    expect(thawed.listDir('/empty')).toEqual(['inner']);
    for (const path of ['/hello.txt', '/docs/guide.md', '/data.bin']) {
      expect(thawed.readFile(path)).toEqual(cart.readFile(path));
    }
    thawed.close();
    cart.close();
  });

  it('thaws an archive written by engram-rs, and leaves no cartridge when thaw fails', () => {
    const fixtures = new URL('../fixtures/engram-rs-1.1.1/', import.meta.url).pathname;
    const thawed = Cartridge.fromEngram(`${fixtures}edge.eng`, join(directory, 'edge.cart'));
    expect(thawed.readFile('/ünïcødé/файл.txt').length).toBeGreaterThan(0);
    expect(thawed.exists('/manifest.json')).toBe(false);
    thawed.close();
    const target = join(directory, 'corrupt.cart');
    expectCode(
      () => Cartridge.fromEngram(`${fixtures}negative/corrupt-payload.eng`, target),
      'ENGRAM_CORRUPT',
    );
    expect(existsSync(target)).toBe(false);
  });
});

/** Recomputes an entry's CRC-32 in its LOCA header and its central-directory entry. */
function fixCrc(archive: Buffer, path: string): void {
  const count = archive.readUInt32LE(32);
  const directoryOffset = Number(archive.readBigUInt64LE(16));
  for (let index = 0; index < count; index++) {
    const entry = directoryOffset + index * 320;
    const pathLength = archive.readUInt16LE(entry + 42);
    if (archive.subarray(entry + 44, entry + 44 + pathLength).toString('utf8') !== path) continue;
    const local = Number(archive.readBigUInt64LE(entry + 4));
    const sizeBytes = Number(archive.readBigUInt64LE(entry + 20));
    const payload = local + 40 + pathLength + 1;
    const checksum = crc32(archive.subarray(payload, payload + sizeBytes));
    archive.writeUInt32LE(checksum, entry + 28);
    archive.writeUInt32LE(checksum, local + 20);
  }
}

/** Where an entry's payload starts in a v1 archive: after its LOCA header, path and NUL. */
function payloadOffsetOf(archive: Buffer, path: string): number {
  const count = archive.readUInt32LE(32);
  const directoryOffset = Number(archive.readBigUInt64LE(16));
  for (let index = 0; index < count; index++) {
    const entry = directoryOffset + index * 320;
    const pathLength = archive.readUInt16LE(entry + 42);
    if (archive.subarray(entry + 44, entry + 44 + pathLength).toString('utf8') !== path) continue;
    const local = Number(archive.readBigUInt64LE(entry + 4));
    return local + 40 + pathLength + 1;
  }
  throw new Error(`no entry ${path}`);
}

describe('databases in an archive', () => {
  it('freezes a SQLite database inside the cartridge as a standard SQLite file', async () => {
    await Cartridge.loadSqlite();
    const cart = Cartridge.create(join(directory, 'with-database.cart'));
    const database = cart.openDatabase('/data/calls.db');
    database.exec('CREATE TABLE calls (id INTEGER PRIMARY KEY, agent TEXT, seconds INTEGER)');
    const insert = database.prepare('INSERT INTO calls (agent, seconds) VALUES (?, ?)');
    database.transaction(() => {
      for (let index = 0; index < 500; index++) insert.run(`agent-${index % 7}`, index);
    })();
    database.close();
    const archivePath = join(directory, 'with-database.eng');
    cart.freeze(archivePath, BASE);
    cart.close();
    const archive = Engram.open(archivePath);
    const bytes = archive.readFile('data/calls.db');
    archive.close();
    // A standard SQLite file: better-sqlite3 opens the bytes as they are and finds them whole.
    const nativePath = join(directory, 'extracted.db');
    writeFileSync(nativePath, bytes);
    const { default: Database } = await import('better-sqlite3');
    const native = new Database(nativePath, { readonly: true });
    try {
      expect(native.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(
        native.prepare('SELECT count(*) AS n, sum(seconds) AS total FROM calls').get(),
      ).toEqual({
        n: 500,
        total: (499 * 500) / 2,
      });
    } finally {
      native.close();
    }
  });
});
