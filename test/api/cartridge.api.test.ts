import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CARTRIDGE_ERROR_CODES,
  Cartridge,
  type CartridgeErrorCode,
  type CartridgeOptions,
  type CompressionName,
  type Durability,
  MemoryStorage,
  canonicalPath,
  isCartridgeError,
} from '../../src/index.js';

/**
 * Tests of the public API, through `src/index.js` only: each member, its error codes, and the
 * promises of docs/API.md that a caller can observe (one commit per transaction, data that
 * survives close and open, path canonicalisation). Real files live in a fresh temp directory.
 */

const JOURNAL_START_OFFSET = 8192;
const HEADER_SLOT_BYTES = 4096;
const MIB = 1024 * 1024;

let directory: string;
let opened: Cartridge[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-api-'));
  opened = [];
});

afterEach(() => {
  // Every cartridge a test opened is released before its directory goes (close is idempotent).
  for (const cart of opened) cart.close();
  rmSync(directory, { recursive: true, force: true });
});

function fileAt(name = 'test.cart'): string {
  return join(directory, name);
}

function track(cart: Cartridge): Cartridge {
  opened.push(cart);
  return cart;
}

function create(options: CartridgeOptions = {}, name = 'test.cart'): Cartridge {
  return track(Cartridge.create(fileAt(name), options));
}

function open(options: CartridgeOptions = {}, name = 'test.cart'): Cartridge {
  return track(Cartridge.open(fileAt(name), options));
}

function memory(options: CartridgeOptions = {}): Cartridge {
  return track(Cartridge.memory(options));
}

/** Fails unless `run` throws a CartridgeError with exactly `code`; returns the error. */
function expectCode(
  run: () => unknown,
  code: CartridgeErrorCode,
): Error & { code: string; path?: string } {
  let thrown: unknown;
  let threw = false;
  try {
    run();
  } catch (error) {
    threw = true;
    thrown = error;
  }
  expect(threw, `expected ${code}, but nothing was thrown`).toBe(true);
  expect(isCartridgeError(thrown), `expected a CartridgeError, got ${String(thrown)}`).toBe(true);
  const error = thrown as Error & { code: string; path?: string };
  expect(error.code).toBe(code);
  expect(CARTRIDGE_ERROR_CODES).toContain(error.code);
  return error;
}

/** Deterministic bytes that no codec can shrink (xorshift), or a compressible pattern. */
function patternBytes(length: number, seed: number, compressible = false): Buffer {
  const bytes = Buffer.alloc(length);
  let state = seed | 1;
  for (let index = 0; index < length; index++) {
    if (compressible) {
      bytes[index] = (index % 97) + seed;
      continue;
    }
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

/** Options a caller could pass by mistake; the casts are the point. */
const BAD_OPTIONS: readonly (readonly [string, unknown])[] = [
  ['capacityBlocks 0', { capacityBlocks: 0 }],
  ['capacityBlocks -1', { capacityBlocks: -1 }],
  ['capacityBlocks 1.5', { capacityBlocks: 1.5 }],
  ['capacityBlocks "10"', { capacityBlocks: '10' }],
  ['durability "sometimes"', { durability: 'sometimes' }],
  ['compression "gzip"', { compression: 'gzip' }],
  ['checkpointIntervalBytes 100', { checkpointIntervalBytes: 100 }],
  ['bufferPoolBytes -1', { bufferPoolBytes: -1 }],
  ['syncIntervalMs 0', { syncIntervalMs: 0 }],
  ['recovery "lenient"', { recovery: 'lenient' }],
  ['null', null],
  ['a string', 'fast'],
];

// ---- factories ------------------------------------------------------------------------------

describe('Cartridge.memory()', () => {
  it('starts empty, with only the root directory', () => {
    const cart = memory();
    expect(cart.listDir('/')).toEqual([]);
    expect(cart.exists('/')).toBe(true);
    const stats = cart.stats();
    expect({
      files: stats.fileCount,
      directories: stats.directoryCount,
      used: stats.usedBlocks,
    }).toEqual({
      files: 0,
      directories: 1,
      used: 0,
    });
    expect(cart.readOnly).toBe(false);
    expect(cart.recovery.decision).toBe('accept');
  });

  it('gives an independent cartridge on every call', () => {
    const first = memory();
    const second = memory();
    first.createFile('/only-in-first', 'x');
    expect(second.exists('/only-in-first')).toBe(false);
    expect(first.cartridgeId).not.toBe(second.cartridgeId);
  });

  it.each(BAD_OPTIONS)('rejects invalid options (%s) with INVALID_ARGUMENT', (_, options) => {
    expectCode(() => Cartridge.memory(options as CartridgeOptions), 'INVALID_ARGUMENT');
  });

  it('ignores readOnly and stays writable, as documented', () => {
    const cart = memory({ readOnly: true });
    expect(cart.readOnly).toBe(false);
    cart.createFile('/a', 'x');
    expect(cart.readFile('/a').toString()).toBe('x');
  });
});

describe('Cartridge.create()', () => {
  it('creates a cartridge file that open() reads back', () => {
    const cart = create();
    cart.createFile('/hello.txt', 'hi');
    cart.close();
    expect(existsSync(fileAt())).toBe(true);
    expect(open().readFile('/hello.txt').toString()).toBe('hi');
  });

  it('replaces whatever file is already at the path', () => {
    const first = create();
    first.createFile('/old', 'old');
    first.close();
    const second = create();
    expect(second.listDir('/')).toEqual([]);
    second.close();
    expect(open().exists('/old')).toBe(false);
  });

  it('refuses readOnly: true with INVALID_ARGUMENT and creates no file', () => {
    expectCode(() => Cartridge.create(fileAt(), { readOnly: true }), 'INVALID_ARGUMENT');
    expect(existsSync(fileAt())).toBe(false);
  });

  it.each(BAD_OPTIONS)('rejects invalid options (%s) before touching the disk', (_, options) => {
    expectCode(() => Cartridge.create(fileAt(), options as CartridgeOptions), 'INVALID_ARGUMENT');
    expect(existsSync(fileAt())).toBe(false);
  });

  it('throws ENOENT when the directory that should hold the file does not exist', () => {
    expectCode(() => Cartridge.create(join(directory, 'missing', 'test.cart')), 'ENOENT');
  });

  it('stores capacityBlocks in the header, where later opens take it from', () => {
    const cart = create({ capacityBlocks: 3 });
    cart.close();
    const reopened = open({ capacityBlocks: 1000 });
    expect(reopened.stats().capacityBlocks).toBe(3);
    expectCode(() => reopened.createFile('/big', Buffer.alloc(4 * 4096)), 'ENOSPC');
  });

  it('works on a MemoryStorage passed as storage, across close and open', () => {
    const storage = new MemoryStorage();
    const cart = track(Cartridge.create('/virtual/a.cart', { storage }));
    cart.createFile('/kept', 'in memory');
    cart.close();
    expect(existsSync('/virtual/a.cart')).toBe(false);
    const reopened = track(Cartridge.open('/virtual/a.cart', { storage }));
    expect(reopened.readFile('/kept').toString()).toBe('in memory');
  });
});

describe('Cartridge.open()', () => {
  it('throws ENOENT for a missing file', () => {
    expectCode(() => Cartridge.open(fileAt('absent.cart')), 'ENOENT');
  });

  it('throws NOT_A_CARTRIDGE for a file of random bytes', () => {
    writeFileSync(fileAt('random.bin'), randomBytes(20_000));
    expectCode(() => Cartridge.open(fileAt('random.bin')), 'NOT_A_CARTRIDGE');
  });

  it('throws NOT_A_CARTRIDGE for an empty file', () => {
    writeFileSync(fileAt('empty.bin'), Buffer.alloc(0));
    expectCode(() => Cartridge.open(fileAt('empty.bin')), 'NOT_A_CARTRIDGE');
  });

  it('throws UNSUPPORTED_VERSION for a header of another format version', () => {
    create().close();
    const original = readFileSync(fileAt());
    // Version 5 (a newer format) and version 3 (before encryption), with valid checksums: not
    // a damaged header.
    for (const version of [5, 3]) {
      const bytes = Buffer.from(original);
      for (const slot of [0, HEADER_SLOT_BYTES]) {
        bytes.writeUInt16LE(version, slot + 8);
        const checksumAt = slot + HEADER_SLOT_BYTES - 4;
        bytes.writeUInt32LE(crc32c(bytes.subarray(slot, checksumAt)) >>> 0, checksumAt);
      }
      writeFileSync(fileAt(), bytes);
      expectCode(() => Cartridge.open(fileAt()), 'UNSUPPORTED_VERSION');
    }
  });

  it.each(BAD_OPTIONS)('rejects invalid options (%s) with INVALID_ARGUMENT', (_, options) => {
    create().close();
    expectCode(() => Cartridge.open(fileAt(), options as CartridgeOptions), 'INVALID_ARGUMENT');
  });

  it('reads records written with any codec, whatever compression it is given', () => {
    const text = 'compressible '.repeat(400);
    const cart = create({ compression: 'lz4' });
    cart.createFile('/lz4', text);
    cart.close();
    const zstd = open({ compression: 'zstd' });
    zstd.createFile('/zstd', text);
    zstd.close();
    const plain = open({ compression: 'none' });
    expect(plain.readFile('/lz4').toString()).toBe(text);
    expect(plain.readFile('/zstd').toString()).toBe(text);
    expect(plain.verify().ok).toBe(true);
  });
});

// ---- writes -------------------------------------------------------------------------------

describe('Cartridge#createFile()', () => {
  it('stores bytes as they are and strings as UTF-8', () => {
    const cart = memory();
    cart.createFile('/bytes.bin', new Uint8Array([0, 1, 2, 255]));
    cart.createFile('/text.txt', 'héllo ✓');
    expect([...cart.readFile('/bytes.bin')]).toEqual([0, 1, 2, 255]);
    expect(cart.readFile('/text.txt').equals(Buffer.from('héllo ✓', 'utf8'))).toBe(true);
    expect(cart.metadata('/text.txt').sizeBytes).toBe(Buffer.byteLength('héllo ✓'));
  });

  it('stores a view into a larger buffer as just the viewed bytes', () => {
    const backing = Buffer.from('xxxxHELLOyyyy');
    const cart = memory();
    cart.createFile('/view', backing.subarray(4, 9));
    expect(cart.readFile('/view').toString()).toBe('HELLO');
  });

  it('creates missing parent directories in the same commit', () => {
    const cart = memory();
    const headBefore = cart.head;
    const recordsBefore = cart.stats().recordCount;
    cart.createFile('/a/b/c.txt', 'deep');
    expect(cart.metadata('/a').type).toBe('directory');
    expect(cart.metadata('/a/b').type).toBe('directory');
    expect(cart.listDir('/a/b')).toEqual(['c.txt']);
    expect(cart.head).toBeGreaterThan(headBefore);
    // Two directory records and the file record.
    expect(cart.stats().recordCount).toBe(recordsBefore + 3);
  });

  it('creates only the missing parents below the nearest directory, from the top down', () => {
    // Parents are looked at from the nearest up (see ensureParents): the ones above the first
    // directory found are not looked at, the missing ones below it are created in path order.
    const cart = memory();
    cart.createFile('/a/b/one.txt', '1');
    const recordsBefore = cart.stats().recordCount;
    cart.createFile('/a/b/c/d/e/two.txt', '2');
    expect(cart.stats().recordCount).toBe(recordsBefore + 4);
    expect(cart.listDir('/a/b')).toEqual(['c', 'one.txt']);
    expect(cart.listDir('/a/b/c/d')).toEqual(['e']);
    const inodes = ['/a/b/c', '/a/b/c/d', '/a/b/c/d/e'].map((path) => cart.metadata(path).inode);
    expect(inodes).toEqual([...inodes].sort((left, right) => left - right));
    cart.createFile('/a/b/c/d/e/three.txt', '3');
    expect(cart.stats().recordCount).toBe(recordsBefore + 5);
    // A file below the nearest missing parent: ENOTDIR, and nothing created.
    const headBefore = cart.head;
    expectCode(() => cart.createFile('/a/b/one.txt/x/y/z.txt', 'z'), 'ENOTDIR');
    expect(cart.head).toBe(headBefore);
    expect(cart.exists('/a/b/one.txt/x')).toBe(false);
  });

  it('throws EEXIST for an existing file, an existing directory and the root', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    cart.createDir('/d');
    expect(expectCode(() => cart.createFile('/f', 'y'), 'EEXIST').path).toBe('/f');
    expectCode(() => cart.createFile('d', 'y'), 'EEXIST');
    expectCode(() => cart.createFile('/', 'y'), 'EEXIST');
    expect(cart.readFile('/f').toString()).toBe('x');
  });

  it('throws ENOTDIR when an ancestor is a file, and creates none of the parents', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    const headBefore = cart.head;
    expectCode(() => cart.createFile('/f/x/y', 'z'), 'ENOTDIR');
    expect(cart.head).toBe(headBefore);
    expect(cart.stats().directoryCount).toBe(1);
  });

  it('reports ENOTDIR before ENOSPC, as writeFile checks the path before the space', () => {
    const cart = memory({ capacityBlocks: 1 });
    cart.createFile('/f', 'x');
    expectCode(() => cart.createFile('/f/child', Buffer.alloc(2 * 4096)), 'ENOTDIR');
  });

  it('throws ENOSPC when the content does not fit, before anything is written', () => {
    const cart = memory({ capacityBlocks: 2 });
    cart.createFile('/one', Buffer.alloc(4096));
    const headBefore = cart.head;
    const error = expectCode(() => cart.createFile('/new/dir/two', Buffer.alloc(4097)), 'ENOSPC');
    expect(error.path).toBe('/new/dir/two');
    expect(cart.head).toBe(headBefore);
    expect(cart.exists('/new')).toBe(false);
    // Exactly the remaining block fits, and empty files cost nothing.
    cart.createFile('/two', Buffer.alloc(4096));
    cart.createFile('/empty', '');
    expect(cart.stats().freeBlocks).toBe(0);
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['an array', [1, 2, 3]],
    ['an ArrayBuffer', new ArrayBuffer(4)],
  ])('throws EINVAL for content that is %s', (_, content) => {
    const cart = memory();
    expectCode(() => cart.createFile('/x', content as unknown as string), 'EINVAL');
    expect(cart.exists('/x')).toBe(false);
  });

  it('takes its own copy inside a transaction, so the caller may reuse its buffer at once', () => {
    const cart = memory();
    const buffer = Buffer.from('original content');
    cart.transaction(() => {
      cart.createFile('/copied', buffer);
      buffer.fill('!');
      expect(cart.readFile('/copied').toString()).toBe('original content');
    });
    expect(cart.readFile('/copied').toString()).toBe('original content');
    expect(cart.verify().ok).toBe(true);
  });
});

describe('Cartridge#readFile()', () => {
  it('returns a copy the caller owns', () => {
    const cart = memory();
    cart.createFile('/a', 'abc');
    const first = cart.readFile('/a');
    first.fill(0);
    expect(cart.readFile('/a').toString()).toBe('abc');
  });

  it('throws ENOENT, EISDIR and ENOTDIR as the path calls for', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    cart.createDir('/d');
    expect(expectCode(() => cart.readFile('/missing'), 'ENOENT').path).toBe('/missing');
    expectCode(() => cart.readFile('/d'), 'EISDIR');
    expectCode(() => cart.readFile('/'), 'EISDIR');
    expectCode(() => cart.readFile('/f/below'), 'ENOTDIR');
  });

  it('reads content from the journal when the buffer pool holds nothing', () => {
    const cart = create({ bufferPoolBytes: 0 });
    const content = patternBytes(10_000, 7);
    cart.createFile('/a', content);
    expect(cart.readFile('/a').equals(content)).toBe(true);
    expect(cart.stats().bufferPool.residentBytes).toBe(0);
  });

  it('keeps a small file in the pool from its first read, a larger one from its second', () => {
    const path = join(directory, 'admission.cart');
    const small = patternBytes(1000, 3);
    const larger = [randomBytes(4096), patternBytes(64 * 1024, 5)];
    const writer = Cartridge.create(path);
    writer.createFile('/small', small);
    larger.forEach((content, index) => writer.createFile(`/larger-${index}`, content));
    writer.close();
    const cart = Cartridge.open(path);
    try {
      const pool = () => cart.stats().bufferPool;
      expect(cart.readFile('/small').equals(small)).toBe(true);
      expect(pool().residentCount).toBe(1);
      larger.forEach((content, index) => {
        const resident = pool().residentCount;
        // Read once: the caller gets the bytes, the pool keeps nothing of it.
        const first = cart.readFile(`/larger-${index}`);
        expect(first.equals(content)).toBe(true);
        expect(pool().residentCount).toBe(resident);
        // Read again: kept, and the third read is served from the pool.
        first.fill(0);
        expect(cart.readFile(`/larger-${index}`).equals(content)).toBe(true);
        expect(pool().residentCount).toBe(resident + 1);
        const hits = pool().hits;
        expect(cart.readFile(`/larger-${index}`).equals(content)).toBe(true);
        expect(pool().hits).toBe(hits + 1);
      });
    } finally {
      cart.close();
    }
  });

  it('reads a file it does not keep straight into a result of its own', () => {
    const path = join(directory, 'read-once.cart');
    const contents = Array.from({ length: 12 }, () => randomBytes(4096 + 512));
    const writer = Cartridge.create(path);
    contents.forEach((content, index) => writer.createFile(`/once-${index}`, content));
    writer.close();
    const cart = Cartridge.open(path);
    try {
      // Read once each (none is kept), the results cut one after another from shared slabs:
      // each is the caller's own, whatever is done to the others.
      const results = contents.map((_, index) => cart.readFile(`/once-${index}`));
      expect(cart.stats().bufferPool.residentCount).toBe(0);
      results.forEach((result, index) => {
        expect(result.equals(contents[index] as Buffer)).toBe(true);
        result.fill(index);
      });
      results.forEach((result, index) => expect(result.every((byte) => byte === index)).toBe(true));
      contents.forEach((content, index) => {
        expect(cart.readFile(`/once-${index}`).equals(content)).toBe(true);
      });
    } finally {
      cart.close();
    }
  });
});

describe('Cartridge#writeFile()', () => {
  it('replaces the whole content and updates size and modification time', () => {
    const cart = memory();
    cart.createFile('/a', 'a long first version');
    const before = cart.metadata('/a');
    cart.writeFile('/a', 'short');
    const after = cart.metadata('/a');
    expect(cart.readFile('/a').toString()).toBe('short');
    expect(after.sizeBytes).toBe(5);
    expect(after.inode).toBe(before.inode);
    expect(after.createdAtMs).toBe(before.createdAtMs);
    expect(after.modifiedAtMs).toBeGreaterThanOrEqual(before.modifiedAtMs);
  });

  it('accepts empty content and records a write', () => {
    const cart = memory();
    cart.createFile('/a', 'x');
    const headBefore = cart.head;
    cart.writeFile('/a', '');
    expect(cart.readFile('/a').length).toBe(0);
    expect(cart.head).toBeGreaterThan(headBefore);
  });

  it('does not create files: ENOENT, and EISDIR and ENOTDIR as the path calls for', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    cart.createDir('/d');
    expectCode(() => cart.writeFile('/missing', 'x'), 'ENOENT');
    expect(cart.exists('/missing')).toBe(false);
    expectCode(() => cart.writeFile('/d', 'x'), 'EISDIR');
    expectCode(() => cart.writeFile('/', 'x'), 'EISDIR');
    expectCode(() => cart.writeFile('/f/below', 'x'), 'ENOTDIR');
    expectCode(() => cart.writeFile('/f', 12 as unknown as string), 'EINVAL');
  });

  it('releases the old blocks before checking the space for the new ones', () => {
    const cart = memory({ capacityBlocks: 3 });
    cart.createFile('/a', Buffer.alloc(3 * 4096));
    cart.writeFile('/a', Buffer.alloc(3 * 4096, 1));
    expectCode(() => cart.writeFile('/a', Buffer.alloc(3 * 4096 + 1)), 'ENOSPC');
    expect(cart.readFile('/a').equals(Buffer.alloc(3 * 4096, 1))).toBe(true);
    expect(cart.stats().usedBlocks).toBe(3);
  });

  it('creates a missing file (and its parents) with { create: true }, and replaces one that exists', () => {
    const cart = memory();
    cart.writeFile('/new/deep/file', 'one', { create: true });
    expect(cart.readFile('/new/deep/file').toString()).toBe('one');
    const inode = cart.metadata('/new/deep/file').inode;
    cart.writeFile('/new/deep/file', 'two', { create: true });
    expect(cart.readFile('/new/deep/file').toString()).toBe('two');
    expect(cart.metadata('/new/deep/file').inode).toBe(inode);
    expect(cart.history('/new/deep/file').map((version) => version.change)).toEqual([
      'written',
      'created',
    ]);
    expectCode(() => cart.writeFile('/new', 'x', { create: true }), 'EISDIR');
    expectCode(() => cart.writeFile('/new/deep/file/below', 'x', { create: true }), 'ENOTDIR');
    expectCode(
      () => cart.writeFile('/x', 'x', { create: 'yes' as unknown as boolean }),
      'INVALID_ARGUMENT',
    );
    expectCode(() => cart.writeFile('/x', 'x', 1 as unknown as object), 'INVALID_ARGUMENT');
  });

  it('asks the policy for Create when { create: true } creates, and for Write when it replaces', () => {
    const cart = memory({ actor: 'admin' });
    cart.createFile('/w/existing', 'e');
    cart.setPolicy({
      Statement: [
        {
          Effect: 'Allow',
          Action: '*',
          Resource: ['/', '/**'],
          Condition: { StringEquals: { 'cartridge:actor': 'admin' } },
        },
        { Effect: 'Allow', Action: 'Write', Resource: '/w/**' },
      ],
    });
    const writer = cart.as('writer');
    writer.writeFile('/w/existing', 'replaced', { create: true });
    expectCode(() => writer.writeFile('/w/new', 'x', { create: true }), 'EACCES');
    expect(cart.exists('/w/new')).toBe(false);
  });
});

describe('Cartridge#appendFile()', () => {
  it('appends to the end of the existing content', () => {
    const cart = memory();
    cart.createFile('/log', 'one\n');
    cart.appendFile('/log', 'two\n');
    cart.appendFile('/log', Buffer.from('three\n'));
    expect(cart.readFile('/log').toString()).toBe('one\ntwo\nthree\n');
    expect(cart.metadata('/log').sizeBytes).toBe(14);
  });

  it('stores text appended in a transaction as UTF-8, ASCII or not', () => {
    const cart = memory();
    cart.createFile('/ascii', '');
    cart.createFile('/mixed', '');
    const ascii = ['plain line\n', 'another ~ line\n', '\u007f'];
    const mixed = ['plain\n', 'héllo wörld\n', '日本語\n', '\u{1f600}\n', 'end'];
    cart.transaction(() => {
      for (const piece of ascii) cart.appendFile('/ascii', piece);
    });
    cart.transaction(() => {
      for (const piece of mixed) cart.appendFile('/mixed', piece);
    });
    expect(cart.readFile('/ascii').equals(Buffer.from(ascii.join(''), 'utf8'))).toBe(true);
    expect(cart.readFile('/mixed').equals(Buffer.from(mixed.join(''), 'utf8'))).toBe(true);
    expect(cart.metadata('/mixed').sizeBytes).toBe(Buffer.byteLength(mixed.join('')));
  });

  it('records nothing for empty content, but still checks the path', () => {
    const cart = memory();
    cart.createFile('/log', 'x');
    const headBefore = cart.head;
    const modifiedBefore = cart.metadata('/log').modifiedAtMs;
    cart.appendFile('/log', '');
    expect(cart.head).toBe(headBefore);
    expect(cart.metadata('/log').modifiedAtMs).toBe(modifiedBefore);
    expectCode(() => cart.appendFile('/missing', ''), 'ENOENT');
  });

  it('throws ENOENT, EISDIR and ENOTDIR as the path calls for', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    cart.createDir('/d');
    expectCode(() => cart.appendFile('/missing', 'x'), 'ENOENT');
    expectCode(() => cart.appendFile('/d', 'x'), 'EISDIR');
    expectCode(() => cart.appendFile('/f/below', 'x'), 'ENOTDIR');
  });

  it('throws ENOSPC when the grown file needs a block that does not fit', () => {
    const cart = memory({ capacityBlocks: 1 });
    cart.createFile('/a', Buffer.alloc(4000, 1));
    expectCode(() => cart.appendFile('/a', Buffer.alloc(100, 2)), 'ENOSPC');
    cart.appendFile('/a', Buffer.alloc(96, 2));
    expect(cart.metadata('/a').sizeBytes).toBe(4096);
    expect(cart.stats().usedBlocks).toBe(1);
  });

  it('counts buffered multi-byte text exactly at the capacity limit', () => {
    const cart = memory({ capacityBlocks: 1 });
    cart.createFile('/a', Buffer.alloc(4000, 1));
    // 48 two-byte characters fill the block exactly; their upper bound (3 bytes each) would not.
    cart.transaction(() => {
      for (let index = 0; index < 4; index++) cart.appendFile('/a', 'é'.repeat(12));
      expectCode(() => cart.appendFile('/a', 'é'), 'ENOSPC');
    });
    expect(cart.metadata('/a').sizeBytes).toBe(4096);
    expect(cart.readFile('/a').subarray(4000).toString()).toBe('é'.repeat(48));
  });

  it('consolidates what was committed, never appends of a transaction that rolled back', () => {
    const cart = memory();
    cart.createFile('/log', '');
    const expected: string[] = [];
    // Enough lines, in transactions, for several consolidations of the file's small appends.
    for (let transaction = 0; transaction < 60; transaction++) {
      const lines = Array.from(
        { length: 100 },
        (_, index) => `${transaction}:${index}:`.padEnd(80, 'x') + '\n',
      );
      if (transaction % 7 === 3) {
        expect(() =>
          cart.transaction(() => {
            for (const line of lines) cart.appendFile('/log', line.toUpperCase());
            cart.readFile('/log');
            throw new Error('rolled back');
          }),
        ).toThrow('rolled back');
      }
      cart.transaction(() => {
        for (const line of lines) cart.appendFile('/log', line);
      });
      expected.push(...lines);
    }
    expect(cart.readFile('/log').toString()).toBe(expected.join(''));
  });

  it('starts each transaction from the file as every change between them left it', () => {
    // The write path remembers the file its last appends went to, for the next transaction's
    // first append: every kind of change in between must be seen. The steps come from a fixed
    // generator; large transactions take the slab path of the append buffer.
    const cart = create();
    cart.createFile('/log', '');
    cart.createFile('/other', '');
    let model = '';
    let state = 7;
    const next = (bound: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % bound;
    };
    const linesOf = (step: number, count: number) =>
      Array.from({ length: count }, (_, index) => `${step}.${index} é`.padEnd(90, '-') + '\n');
    for (let step = 0; step < 120; step++) {
      const lines = linesOf(step, next(2) === 0 ? 3 : 60);
      cart.transaction(() => {
        for (const line of lines) cart.appendFile('/log', line);
      });
      model += lines.join('');
      const between = next(7);
      if (between === 0) {
        cart.writeFile('/log', `rewritten ${step}\n`);
        model = `rewritten ${step}\n`;
      } else if (between === 1) {
        // Rolled back: the same file (its appends staged by a read), then another file with
        // a record of the same size; then one record elsewhere, which brings the journal's
        // next sequence back to where the rolled-back appends had left it.
        expect(() =>
          cart.transaction(() => {
            for (const line of lines) cart.appendFile('/log', line);
            cart.readFile('/log');
            throw new Error('rolled back');
          }),
        ).toThrow('rolled back');
        expect(() =>
          cart.transaction(() => {
            for (const line of lines) cart.appendFile('/other', line);
            throw new Error('rolled back');
          }),
        ).toThrow('rolled back');
        cart.writeFile('/other', lines.join(''));
      } else if (between === 2) {
        cart.deleteFile('/log');
        cart.createFile('/log', 'again\n');
        model = 'again\n';
      } else if (between === 3) {
        cart.checkpoint();
      } else if (between === 4) {
        cart.rename('/log', '/moved');
        cart.createFile('/log', '');
        cart.deleteFile('/moved');
        model = '';
      } else if (between === 5) {
        // The same file under another spelling, outside a transaction.
        cart.appendFile('/./log', 'spelled\n');
        model += 'spelled\n';
      }
      expect(cart.metadata('/log').sizeBytes).toBe(Buffer.byteLength(model));
    }
    expect(cart.readFile('/log').toString()).toBe(model);
    cart.close();
    expect(open().readFile('/log').toString()).toBe(model);
  });
});

describe('Cartridge#close() and the trailing run of small appends', () => {
  /** A log of `lineCount` one-line commits, closed; its lines and the dead bytes before close. */
  function appendedLog(path: string, lineCount: number): { lines: string[]; deadBytes: number } {
    const cart = Cartridge.create(path, { durability: 'off' });
    cart.createFile('/log', '');
    const lines = Array.from(
      { length: lineCount },
      (_, index) => `${index}:`.padEnd(60, 'x') + '\n',
    );
    for (const line of lines) cart.appendFile('/log', line);
    const deadBytes = cart.stats().deadBytes;
    cart.close();
    return { lines, deadBytes };
  }

  it('rewrites a long trailing run into one record at close; the log reads the same', () => {
    const path = fileAt('long.cart');
    const { lines, deadBytes } = appendedLog(path, 300);
    const reopened = track(Cartridge.open(path));
    // The 300 small records are no longer referred to: the consolidated one holds their bytes.
    expect(reopened.stats().deadBytes - deadBytes).toBeGreaterThan(300 * 60);
    expect(reopened.readFile('/log').toString()).toBe(lines.join(''));
    expect(reopened.verify().ok).toBe(true);
  });

  it('leaves a short trailing run to grow', () => {
    const path = fileAt('short.cart');
    const { lines, deadBytes } = appendedLog(path, 20);
    const reopened = track(Cartridge.open(path));
    expect(reopened.stats().deadBytes).toBe(deadBytes);
    expect(reopened.readFile('/log').toString()).toBe(lines.join(''));
  });
});

describe('Cartridge#deleteFile()', () => {
  it('deletes a file and releases its blocks', () => {
    const cart = memory({ capacityBlocks: 2 });
    cart.createFile('/a', Buffer.alloc(8192));
    expect(cart.stats().freeBlocks).toBe(0);
    cart.deleteFile('/a');
    expect(cart.exists('/a')).toBe(false);
    expect(cart.stats().usedBlocks).toBe(0);
    cart.createFile('/b', Buffer.alloc(8192));
  });

  it('deletes an empty directory but refuses a non-empty one with ENOTEMPTY', () => {
    const cart = memory();
    cart.createFile('/d/f', 'x');
    expect(expectCode(() => cart.deleteFile('/d'), 'ENOTEMPTY').path).toBe('/d');
    cart.deleteFile('/d/f');
    cart.deleteFile('/d');
    expect(cart.listDir('/')).toEqual([]);
  });

  it.each(['/', '.', '/a/..', '//'])('refuses to delete the root (%s) with EINVAL', (root) => {
    const cart = memory();
    expectCode(() => cart.deleteFile(root), 'EINVAL');
  });

  it('throws ENOENT for nothing at the path and ENOTDIR below a file', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    expectCode(() => cart.deleteFile('/missing'), 'ENOENT');
    expectCode(() => cart.deleteFile('/f/below'), 'ENOTDIR');
  });
});

describe('Cartridge#createDir()', () => {
  it('creates a directory with mode 0o755 that costs no blocks', () => {
    const cart = memory({ capacityBlocks: 1 });
    cart.createDir('/d');
    const meta = cart.metadata('/d');
    expect({
      type: meta.type,
      mode: meta.mode,
      sizeBytes: meta.sizeBytes,
      blocks: meta.blockCount,
    }).toEqual({
      type: 'directory',
      mode: 0o755,
      sizeBytes: 0,
      blocks: 0,
    });
    expect(cart.stats().usedBlocks).toBe(0);
  });

  it('throws EEXIST without recursive for a directory, a file and the root', () => {
    const cart = memory();
    cart.createDir('/d');
    cart.createFile('/f', 'x');
    expectCode(() => cart.createDir('/d'), 'EEXIST');
    expectCode(() => cart.createDir('/f'), 'EEXIST');
    expectCode(() => cart.createDir('/'), 'EEXIST');
  });

  it('with recursive, creates every ancestor and does nothing for an existing directory', () => {
    const cart = memory();
    cart.createDir('/p/q/r', { recursive: true });
    expect(cart.listDir('/p/q')).toEqual(['r']);
    const headBefore = cart.head;
    cart.createDir('/p/q', { recursive: true });
    cart.createDir('/', { recursive: true });
    expect(cart.head).toBe(headBefore);
  });

  it('with recursive, still throws EEXIST for a file and ENOTDIR below a file', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    expectCode(() => cart.createDir('/f', { recursive: true }), 'EEXIST');
    expectCode(() => cart.createDir('/f/g/h', { recursive: true }), 'ENOTDIR');
  });

  it('without recursive, throws ENOENT for a missing parent and ENOTDIR for a file parent', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    expectCode(() => cart.createDir('/missing/d'), 'ENOENT');
    expectCode(() => cart.createDir('/missing/d', { recursive: false }), 'ENOENT');
    expectCode(() => cart.createDir('/f/d'), 'ENOTDIR');
    expect(cart.exists('/missing')).toBe(false);
  });
});

// ---- reads --------------------------------------------------------------------------------

describe('Cartridge#listDir()', () => {
  it('returns the names of the direct children, sorted in UTF-16 code unit order', () => {
    const cart = memory();
    for (const name of ['b', 'a', 'B', 'é', '10', '9']) cart.createFile(`/d/${name}`, '');
    cart.createFile('/d/sub/deeper', '');
    expect(cart.listDir('/d')).toEqual(['10', '9', 'B', 'a', 'b', 'sub', 'é']);
    expect(cart.listDir('/')).toEqual(['d']);
  });

  it('returns a new array each time', () => {
    const cart = memory();
    cart.createFile('/a', '');
    cart.listDir('/').push('intruder');
    expect(cart.listDir('/')).toEqual(['a']);
  });

  it('throws ENOENT for a missing directory and ENOTDIR for a file or below one', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    expectCode(() => cart.listDir('/missing'), 'ENOENT');
    expectCode(() => cart.listDir('/f'), 'ENOTDIR');
    expectCode(() => cart.listDir('/f/below'), 'ENOTDIR');
  });
});

describe('Cartridge#exists()', () => {
  it('tells files and directories from nothing, and is false below a file', () => {
    const cart = memory();
    cart.createFile('/d/f', 'x');
    expect(
      ['/', '/d', '/d/f', 'd/f', '/d/missing', '/d/f/below'].map((path) => cart.exists(path)),
    ).toEqual([true, true, true, true, false, false]);
  });

  it.each([
    ['an empty string', ''],
    ['a NUL byte', '/a\0b'],
    ['a number', 7],
    ['undefined', undefined],
    ['null', null],
  ])('throws EINVAL for a path that is %s', (_, path) => {
    const cart = memory();
    expectCode(() => cart.exists(path as string), 'EINVAL');
  });
});

describe('Cartridge#metadata()', () => {
  it('describes a file: type, canonical path, size, blocks, mode and times', () => {
    const cart = memory();
    const before = Date.now();
    cart.createFile('docs/./guide.md', Buffer.alloc(4097));
    const meta = cart.metadata('/docs/guide.md');
    expect({
      type: meta.type,
      path: meta.path,
      size: meta.sizeBytes,
      blocks: meta.blockCount,
      mode: meta.mode,
    }).toEqual({ type: 'file', path: '/docs/guide.md', size: 4097, blocks: 2, mode: 0o644 });
    expect(meta.createdAtMs).toBeGreaterThanOrEqual(before);
    expect(meta.modifiedAtMs).toBe(meta.createdAtMs);
  });

  it('gives the root inode 1 and every live entry its own inode', () => {
    const cart = memory();
    cart.createFile('/a/b', '');
    cart.createFile('/a/c', '');
    cart.createDir('/d');
    const inodes = ['/', '/a', '/a/b', '/a/c', '/d'].map((path) => cart.metadata(path).inode);
    expect(inodes[0]).toBe(1);
    expect(new Set(inodes).size).toBe(inodes.length);
  });

  it('throws ENOENT for nothing at the path and ENOTDIR below a file', () => {
    const cart = memory();
    cart.createFile('/f', 'x');
    expectCode(() => cart.metadata('/missing'), 'ENOENT');
    expectCode(() => cart.metadata('/f/below'), 'ENOTDIR');
  });
});

describe('Cartridge#stats()', () => {
  it('charges each file ceil(size / 4096) blocks and counts files and directories', () => {
    const cart = memory();
    const sizes = [0, 1, 4096, 4097, 10_000];
    sizes.forEach((size, index) => cart.createFile(`/dir/f${index}`, Buffer.alloc(size)));
    const stats = cart.stats();
    expect(stats.usedBlocks).toBe(0 + 1 + 1 + 2 + 3);
    expect(stats.fileCount).toBe(5);
    expect(stats.directoryCount).toBe(2);
    // Without a capacity the total is what is used.
    expect(stats.totalBlocks).toBe(stats.usedBlocks);
    expect(stats.freeBlocks).toBe(0);
    expect(stats.capacityBlocks).toBeNull();
  });

  it('keeps its figures consistent: free = total - used, fragmentation in [0, 1]', () => {
    const cart = create({ capacityBlocks: 50, durability: 'off' });
    cart.createFile('/a', patternBytes(20_000, 3));
    cart.writeFile('/a', patternBytes(9_000, 4));
    cart.createFile('/b', 'small');
    const stats = cart.stats();
    expect(stats.totalBlocks).toBe(50);
    expect(stats.freeBlocks).toBe(stats.totalBlocks - stats.usedBlocks);
    expect(stats.usedBlocks).toBe(3 + 1);
    expect(stats.fragmentation).toBeGreaterThan(0);
    expect(stats.fragmentation).toBeLessThanOrEqual(1);
    expect(stats.deadBytes).toBe(stats.journalBytes - stats.liveBytes);
    expect(stats.liveBytes).toBeGreaterThanOrEqual(9_000);
    expect(stats.journalBytes).toBe(stats.head - JOURNAL_START_OFFSET);
    expect(stats.head).toBe(cart.head);
    expect(stats.durability).toBe('off');
  });

  it('reports more dead bytes once content is overwritten', () => {
    const cart = memory({ compression: 'none' });
    cart.createFile('/a', patternBytes(50_000, 5));
    const before = cart.stats();
    cart.writeFile('/a', 'tiny');
    const after = cart.stats();
    expect(after.deadBytes).toBeGreaterThan(before.deadBytes + 49_000);
    expect(after.fragmentation).toBeGreaterThan(before.fragmentation);
  });
});

// ---- transactions ---------------------------------------------------------------------------

describe('Cartridge#transaction()', () => {
  it('returns what the body returns', () => {
    const cart = memory();
    expect(cart.transaction(() => 42)).toBe(42);
    expect(cart.transaction(() => ({ moved: true }))).toEqual({ moved: true });
  });

  it('is one commit: nothing reaches the journal until the body returns', () => {
    const cart = memory();
    const headBefore = cart.head;
    const recordsBefore = cart.stats().recordCount;
    cart.transaction(() => {
      cart.createFile('/a', '1');
      cart.createFile('/b', '2');
      cart.writeFile('/a', '3');
      expect(cart.head).toBe(headBefore);
      expect(cart.stats().recordCount).toBe(recordsBefore);
      // Reads inside see the transaction's own writes.
      expect(cart.readFile('/a').toString()).toBe('3');
    });
    expect(cart.head).toBeGreaterThan(headBefore);
    expect(cart.stats().recordCount).toBe(recordsBefore + 3);
    expect(cart.verify().ok).toBe(true);
  });

  it('writes what each call was given, though the caller reuses its buffer before the commit', () => {
    const path = join(directory, 'reused-buffer.cart');
    const cart = Cartridge.create(path);
    // Sizes around the copies' slab limits: none, small, 4 KiB, 64 KiB and past it.
    const sizes = [0, 100, 4096, 64 * 1024, 64 * 1024 + 1, 300_000];
    const expected = new Map<string, Buffer>();
    cart.transaction(() => {
      for (const sizeBytes of sizes) {
        const buffer = Buffer.alloc(sizeBytes);
        for (let round = 0; round < 3; round++) {
          buffer.fill(round + 1);
          const file = `/reused/${sizeBytes}-${round}`;
          if (round === 0) cart.createFile(file, buffer);
          else {
            cart.createFile(file, buffer);
            cart.writeFile(`/reused/${sizeBytes}-0`, buffer);
          }
          expected.set(file, Buffer.from(buffer));
        }
        expected.set(`/reused/${sizeBytes}-0`, Buffer.from(buffer));
        buffer.fill(0xee);
      }
      for (const [file, bytes] of expected) expect(cart.readFile(file).equals(bytes)).toBe(true);
    });
    cart.close();
    const reopened = Cartridge.open(path);
    try {
      for (const [file, bytes] of expected) {
        expect(reopened.readFile(file).equals(bytes), file).toBe(true);
      }
      expect(reopened.verify().ok).toBe(true);
    } finally {
      reopened.close();
    }
  });

  it('undoes everything and rethrows the same error when the body throws', () => {
    const cart = memory();
    cart.createFile('/keep', 'kept');
    const headBefore = cart.head;
    const recordsBefore = cart.stats().recordCount;
    const failure = new Error('abort');
    let caught: unknown;
    try {
      cart.transaction(() => {
        cart.createFile('/x/y', 'gone');
        cart.writeFile('/keep', 'changed');
        cart.deleteFile('/keep');
        throw failure;
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBe(failure);
    expect(cart.head).toBe(headBefore);
    expect(cart.stats().recordCount).toBe(recordsBefore);
    expect(cart.listDir('/')).toEqual(['keep']);
    expect(cart.readFile('/keep').toString()).toBe('kept');
    expect(cart.verify().ok).toBe(true);
  });

  it('nests as savepoints: an inner failure undoes only the inner work', () => {
    const cart = memory();
    cart.transaction(() => {
      cart.createFile('/kept.txt', 'kept');
      expect(() =>
        cart.transaction(() => {
          cart.createFile('/dropped.txt', 'dropped');
          cart.writeFile('/kept.txt', 'overwritten');
          throw new Error('undo only the inner part');
        }),
      ).toThrow('undo only the inner part');
      expect(cart.exists('/dropped.txt')).toBe(false);
      expect(cart.readFile('/kept.txt').toString()).toBe('kept');
      cart.createFile('/after.txt', 'after');
    });
    expect(cart.listDir('/')).toEqual(['after.txt', 'kept.txt']);
    expect(cart.readFile('/kept.txt').toString()).toBe('kept');
  });

  it('treats each failing write inside as a savepoint the body may catch and go on from', () => {
    const cart = memory();
    cart.createFile('/exists', 'x');
    cart.transaction(() => {
      cart.createFile('/new', 'y');
      expectCode(() => cart.createFile('/exists', 'z'), 'EEXIST');
      expectCode(() => cart.createFile('/exists/child', 'z'), 'ENOTDIR');
    });
    expect(cart.listDir('/')).toEqual(['exists', 'new']);
  });

  it('refuses an async body with INVALID_ARGUMENT and keeps none of its writes', () => {
    const cart = memory();
    const headBefore = cart.head;
    const body = async (): Promise<void> => {
      cart.createFile('/before-await', 'x');
    };
    expectCode(() => cart.transaction(body), 'INVALID_ARGUMENT');
    expect(cart.exists('/before-await')).toBe(false);
    expect(cart.head).toBe(headBefore);
  });

  it('refuses a body that is not a function with INVALID_ARGUMENT', () => {
    const cart = memory();
    expectCode(
      () => cart.transaction('not a function' as unknown as () => void),
      'INVALID_ARGUMENT',
    );
  });

  it('refuses checkpoint(), verify() and close() inside with INVALID_ARGUMENT and stays usable', () => {
    const cart = memory();
    cart.transaction(() => {
      cart.createFile('/a', 'x');
      expectCode(() => cart.checkpoint(), 'INVALID_ARGUMENT');
      expectCode(() => cart.verify(), 'INVALID_ARGUMENT');
      expectCode(() => cart.close(), 'INVALID_ARGUMENT');
      cart.createFile('/b', 'y');
    });
    expect(cart.listDir('/')).toEqual(['a', 'b']);
  });

  it('throws LIMIT_EXCEEDED beyond 64 levels of nesting', () => {
    const cart = memory();
    const nest = (depth: number): number =>
      depth === 0 ? 0 : cart.transaction(() => nest(depth - 1) + 1);
    expect(nest(64)).toBe(64);
    expectCode(() => nest(65), 'LIMIT_EXCEEDED');
  });

  it('writes nothing when it changes nothing, even when an automatic checkpoint is due', () => {
    const storage = new MemoryStorage();
    const first = track(Cartridge.create('/virtual/quiet.cart', { storage }));
    for (let index = 0; index < 40; index++) first.createFile(`/f${index}`, 'x'.repeat(100));
    first.close();
    // The new handle's interval is already exceeded by the journal since the last checkpoint.
    const cart = track(
      Cartridge.open('/virtual/quiet.cart', { storage, checkpointIntervalBytes: 4096 }),
    );
    const headBefore = cart.head;
    cart.transaction(() => cart.exists('/f1'));
    cart.appendFile('/f1', '');
    cart.createDir('/', { recursive: true });
    expect(cart.head).toBe(headBefore);
    expect(cart.stats().checkpointOffset).toBe(0);
    // The first real commit does write the checkpoint.
    cart.createFile('/new', 'x');
    expect(cart.stats().checkpointOffset).toBeGreaterThan(headBefore);
  });
});

// ---- properties and maintenance -------------------------------------------------------------

describe('Cartridge#head', () => {
  it('moves forward with every commit and stays put for reads and failed calls', () => {
    const cart = create();
    const heads = [cart.head];
    cart.createFile('/a', 'x');
    heads.push(cart.head);
    cart.appendFile('/a', 'y');
    heads.push(cart.head);
    cart.createDir('/d');
    heads.push(cart.head);
    cart.deleteFile('/d');
    heads.push(cart.head);
    for (let index = 1; index < heads.length; index++) {
      expect(heads[index]).toBeGreaterThan(heads[index - 1] as number);
    }
    const last = cart.head;
    cart.readFile('/a');
    cart.listDir('/');
    cart.metadata('/a');
    cart.stats();
    cart.verify();
    expectCode(() => cart.createFile('/a', 'again'), 'EEXIST');
    expect(cart.head).toBe(last);
    expect(cart.stats().head).toBe(last);
  });

  it('keeps its value after close without throwing', () => {
    const cart = create();
    cart.createFile('/a', 'x');
    const head = cart.head;
    cart.close();
    expect(cart.head).toBe(head);
    expect(open().head).toBe(head);
  });
});

describe('Cartridge#flush()', () => {
  const modes: Durability[] = ['full', 'normal', 'off'];
  it.each(modes)('brings syncedLength up to the head (durability %s)', (durability) => {
    const cart = create({ durability });
    cart.createFile('/a', 'x');
    cart.createFile('/b', patternBytes(5000, 9));
    cart.flush();
    expect(cart.stats().syncedLength).toBe(cart.head);
  });

  it('does nothing on a read-only cartridge', () => {
    create().close();
    const cart = open({ readOnly: true });
    const statsBefore = cart.stats();
    cart.flush();
    expect(cart.stats().syncedLength).toBe(statsBefore.syncedLength);
  });
});

describe('Cartridge#close()', () => {
  it('can be called twice', () => {
    const cart = create();
    cart.close();
    cart.close();
  });

  it('makes every method throw CARTRIDGE_CLOSED, while the getters keep answering', () => {
    const cart = create();
    cart.createFile('/a', 'x');
    cart.close();
    const calls: readonly (readonly [string, () => unknown])[] = [
      ['readFile', () => cart.readFile('/a')],
      ['listDir', () => cart.listDir('/')],
      ['exists', () => cart.exists('/a')],
      ['metadata', () => cart.metadata('/a')],
      ['stats', () => cart.stats()],
      ['createFile', () => cart.createFile('/b', 'x')],
      ['writeFile', () => cart.writeFile('/a', 'x')],
      ['appendFile', () => cart.appendFile('/a', 'x')],
      ['deleteFile', () => cart.deleteFile('/a')],
      ['createDir', () => cart.createDir('/d')],
      ['transaction', () => cart.transaction(() => 1)],
      ['flush', () => cart.flush()],
      ['checkpoint', () => cart.checkpoint()],
      ['verify', () => cart.verify()],
    ];
    for (const [, call] of calls) expectCode(call, 'CARTRIDGE_CLOSED');
    expect(cart.readOnly).toBe(false);
    expect(cart.recovery.decision).toBe('accept');
  });

  it.each<[Durability, CompressionName]>([
    ['full', 'zstd'],
    ['normal', 'lz4'],
    ['off', 'none'],
    ['off', 'zstd'],
  ])(
    'keeps every commit across close and open (durability %s, compression %s)',
    (durability, compression) => {
      const cart = create({ durability, compression });
      const big = patternBytes(70_000, 11, true);
      cart.createFile('/docs/a.txt', 'alpha');
      cart.createFile('/docs/big.bin', big);
      cart.appendFile('/docs/a.txt', ' beta');
      cart.transaction(() => {
        cart.createDir('/empty');
        cart.createFile('/t', 'in a transaction');
      });
      cart.deleteFile('/t');
      const head = cart.head;
      expect(cart.stats().durability).toBe(durability);
      cart.close();
      const reopened = open({ durability, compression });
      expect(reopened.recovery.label).toBe('@clean');
      // Close adds a checkpoint (changed index pages and a root) when 64 KiB or more follow the
      // last one, as the incompressible file does here; it changes no content.
      if (reopened.head !== head) {
        expect(reopened.stats().checkpointOffset).toBeGreaterThanOrEqual(head);
        expect(reopened.recovery.checkpointOffset).toBe(reopened.stats().checkpointOffset);
      }
      expect(reopened.readFile('/docs/a.txt').toString()).toBe('alpha beta');
      expect(reopened.readFile('/docs/big.bin').equals(big)).toBe(true);
      expect(reopened.listDir('/')).toEqual(['docs', 'empty']);
      expect(reopened.verify().ok).toBe(true);
    },
  );
});

describe('Cartridge#verify()', () => {
  it('checks the whole journal and reports it consistent', () => {
    const cart = create();
    expect(cart.verify().ok).toBe(true);
    cart.createFile('/a', patternBytes(3000, 1));
    cart.checkpoint();
    cart.writeFile('/a', 'x');
    const report = cart.verify();
    const stats = cart.stats();
    expect(report).toMatchObject({
      ok: true,
      assurance: 'chain',
      stateMatches: true,
      damageOffset: null,
    });
    expect(report.recordsChecked).toBe(stats.recordCount);
    expect(report.bytesChecked).toBe(cart.head - JOURNAL_START_OFFSET);
    expect(report.headHash).toMatch(/^[0-9a-f]{64}$/);
    cart.close();
    expect(open().verify().headHash).toBe(report.headHash);
  });

  it('reports damage behind the checkpoint instead of throwing', () => {
    const marker = Buffer.from('VICTIM-CONTENT-'.repeat(40));
    const cart = create({ compression: 'none', durability: 'full' });
    cart.createFile('/victim', marker);
    cart.checkpoint();
    cart.createFile('/after', 'fine');
    cart.close();
    const bytes = readFileSync(fileAt());
    const at = bytes.indexOf(marker);
    expect(at).toBeGreaterThan(JOURNAL_START_OFFSET);
    bytes.writeUInt8(bytes.readUInt8(at + 100) ^ 0x01, at + 100);
    writeFileSync(fileAt(), bytes);
    // Open starts from the checkpoint, so it does not see the damage; verify does.
    const damaged = open();
    const report = damaged.verify();
    expect(report.ok).toBe(false);
    expect(report.stateMatches).toBe(false);
    expect(report.damageOffset).not.toBeNull();
    expect(report.damageOffset as number).toBeLessThanOrEqual(at);
    expect(damaged.readFile('/after').toString()).toBe('fine');
    expectCode(() => damaged.readFile('/victim'), 'JOURNAL_CORRUPT');
  });
});

describe('Cartridge#checkpoint()', () => {
  it('writes a checkpoint at the head that the next open starts from', () => {
    const cart = create();
    cart.createFile('/a/b', 'x');
    const headBefore = cart.head;
    cart.checkpoint();
    // The changed index pages come first, then the root that names them.
    const rootOffset = cart.stats().checkpointOffset;
    expect(rootOffset).toBeGreaterThan(headBefore);
    expect(cart.head).toBeGreaterThan(rootOffset);
    expect(cart.stats().dirtyIndexPages).toBe(0);
    cart.createFile('/a/c', 'y');
    cart.close();
    const reopened = open();
    expect(reopened.stats().checkpointOffset).toBe(rootOffset);
    expect(reopened.recovery.checkpointOffset).toBe(rootOffset);
    expect(reopened.listDir('/a')).toEqual(['b', 'c']);
    expect(reopened.verify().ok).toBe(true);
  });

  it('runs on its own once checkpointIntervalBytes of journal have been written', () => {
    const cart = create({ checkpointIntervalBytes: 4096, compression: 'none' });
    cart.createFile('/small', 'x');
    expect(cart.stats().checkpointOffset).toBe(0);
    cart.createFile('/big', patternBytes(5000, 2));
    expect(cart.stats().checkpointOffset).toBeGreaterThan(0);
  });

  it('runs on its own once checkpointIntervalRecords records have been written', () => {
    const checkpointsDuring = (cart: Cartridge, count: number): number => {
      let checkpoints = 0;
      let last = cart.stats().checkpointOffset;
      for (let index = 0; index < count; index++) {
        cart.createFile(`/small-${index}`, 'x');
        const now = cart.stats().checkpointOffset;
        if (now !== last) checkpoints++;
        last = now;
      }
      return checkpoints;
    };
    // Forty small files are a few KiB, far below the bytes interval: only records count.
    const every8 = create({ checkpointIntervalRecords: 8 });
    expect(checkpointsDuring(every8, 40)).toBeGreaterThanOrEqual(4);
    every8.close();
    expect(open().verify().ok).toBe(true);
    const every1000 = memory({ checkpointIntervalRecords: 1000 });
    expect(checkpointsDuring(every1000, 40)).toBe(0);
  });

  it('counts each record for at most 2 KiB of checkpointIntervalBytes', () => {
    const cart = create({ checkpointIntervalBytes: 64 * 1024, compression: 'none' });
    // A megabyte in one record replays like a few small ones: it does not make a checkpoint.
    cart.createFile('/big', patternBytes(1024 * 1024, 3));
    expect(cart.stats().checkpointOffset).toBe(0);
    // Forty records of 4 KiB count for 80 KiB: one does.
    for (let index = 0; index < 40; index++) {
      cart.createFile(`/four-${index}`, patternBytes(4096, index));
    }
    expect(cart.stats().checkpointOffset).toBeGreaterThan(0);
  });

  it('throws READ_ONLY on a read-only cartridge', () => {
    create().close();
    expectCode(() => open({ readOnly: true }).checkpoint(), 'READ_ONLY');
  });
});

describe('Cartridge#recovery', () => {
  it('reports @clean for a new cartridge and for a cleanly closed one', () => {
    expect(memory().recovery.label).toBe('@clean');
    const cart = create();
    expect(cart.recovery).toMatchObject({ label: '@clean', decision: 'accept', droppedBytes: 0 });
    cart.createFile('/a', 'x');
    cart.close();
    expect(open().recovery).toMatchObject({
      label: '@clean',
      decision: 'accept',
      damageOffset: null,
    });
  });

  it('cuts a zero-filled tail away and keeps every commit', () => {
    const cart = create();
    cart.createFile('/a', 'x');
    const head = cart.head;
    cart.close();
    appendFileSync(fileAt(), Buffer.alloc(300));
    const reopened = open();
    expect(reopened.recovery).toMatchObject({
      label: '@zero-tail',
      decision: 'truncate-tail',
      validEndOffset: head,
      droppedBytes: 300,
    });
    expect(statSync(fileAt()).size).toBe(head);
    expect(reopened.readFile('/a').toString()).toBe('x');
    reopened.createFile('/b', 'y');
    expect(reopened.verify().ok).toBe(true);
  });

  it('leaves the file untouched when the damaged tail is found by a read-only open', () => {
    const cart = create();
    cart.createFile('/a', 'x');
    cart.close();
    appendFileSync(fileAt(), Buffer.alloc(300));
    const sizeBefore = statSync(fileAt()).size;
    const reopened = open({ readOnly: true });
    expect(reopened.recovery.decision).toBe('truncate-tail');
    expect(statSync(fileAt()).size).toBe(sizeBefore);
    expect(reopened.readFile('/a').toString()).toBe('x');
  });
});

describe('Cartridge#readOnly', () => {
  it('is false for created and memory cartridges', () => {
    expect(create().readOnly).toBe(false);
    expect(memory().readOnly).toBe(false);
  });

  it('is true for a read-only open, which reads but refuses every mutation with READ_ONLY', () => {
    const writer = create();
    writer.createFile('/a', 'x');
    writer.close();
    const cart = open({ readOnly: true });
    expect(cart.readOnly).toBe(true);
    expect(cart.readFile('/a').toString()).toBe('x');
    expect(cart.verify().ok).toBe(true);
    const mutations: readonly (() => unknown)[] = [
      () => cart.createFile('/b', 'x'),
      () => cart.writeFile('/a', 'y'),
      () => cart.appendFile('/a', 'y'),
      () => cart.deleteFile('/a'),
      () => cart.createDir('/d'),
      () => cart.transaction(() => cart.readFile('/a')),
      () => cart.checkpoint(),
    ];
    for (const mutation of mutations) expectCode(mutation, 'READ_ONLY');
    expect(cart.readFile('/a').toString()).toBe('x');
  });
});

// ---- paths --------------------------------------------------------------------------------

describe('canonicalPath()', () => {
  it.each([
    ['a.txt', '/a.txt'],
    ['/a.txt', '/a.txt'],
    ['/x/../a.txt', '/a.txt'],
    ['//a.txt', '/a.txt'],
    ['./a.txt', '/a.txt'],
    ['/../../a.txt', '/a.txt'],
    ['a/../../b', '/b'],
    ['/a//b/./c/', '/a/b/c'],
    ['..', '/'],
    ['.', '/'],
  ])('turns %j into %j', (input, expected) => {
    expect(canonicalPath(input)).toBe(expected);
  });

  it('names the same file whichever spelling a caller uses', () => {
    const cart = memory();
    cart.createFile('a.txt', 'one');
    for (const spelling of ['/a.txt', '/x/../a.txt', '//a.txt', './a.txt', '/../../a.txt']) {
      expect(cart.readFile(spelling).toString()).toBe('one');
    }
    expectCode(() => cart.createFile('/x/../a.txt', 'two'), 'EEXIST');
    expect(cart.listDir('/')).toEqual(['a.txt']);
    expect(expectCode(() => cart.readFile('./missing/../nope'), 'ENOENT').path).toBe('/nope');
  });

  it.each([
    ['an empty string', ''],
    ['a NUL byte', 'a\0b'],
    ['a number', 1],
    ['undefined', undefined],
    ['an object', { path: '/a' }],
  ])('throws EINVAL for %s, in canonicalPath and in every call', (_, input) => {
    const cart = memory();
    expectCode(() => canonicalPath(input), 'EINVAL');
    expectCode(() => cart.createFile(input as string, 'x'), 'EINVAL');
    expectCode(() => cart.readFile(input as string), 'EINVAL');
    expectCode(() => cart.createDir(input as string), 'EINVAL');
  });

  it('throws ENAMETOOLONG for a name over 255 UTF-8 bytes and a path over 4096', () => {
    const cart = memory();
    cart.createFile(`/${'n'.repeat(255)}`, 'fits');
    expectCode(() => cart.createFile(`/${'n'.repeat(256)}`, 'x'), 'ENAMETOOLONG');
    // 128 two-byte characters: 128 characters, but 256 bytes.
    expectCode(() => cart.createFile(`/${'é'.repeat(128)}`, 'x'), 'ENAMETOOLONG');
    const longPath = `/${Array.from({ length: 21 }, () => 'p'.repeat(200)).join('/')}`;
    expectCode(() => cart.createFile(longPath, 'x'), 'ENAMETOOLONG');
    expectCode(() => cart.exists('/a'.repeat(10_000)), 'ENAMETOOLONG');
  });

  it('throws LIMIT_EXCEEDED for a path deeper than 255 segments', () => {
    const cart = memory();
    expectCode(() => cart.createDir('/d'.repeat(256), { recursive: true }), 'LIMIT_EXCEEDED');
    expect(cart.listDir('/')).toEqual([]);
  });
});

// ---- large content ------------------------------------------------------------------------

describe('large files', () => {
  it.each([
    ['incompressible', false],
    ['compressible', true],
  ])('round-trip 3 MiB of %s content across close and open', (_, compressible) => {
    const content = patternBytes(3 * MIB + 123, 17, compressible);
    const cart = create({ bufferPoolBytes: 0 });
    cart.createFile('/big.bin', content);
    expect(cart.readFile('/big.bin').equals(content)).toBe(true);
    expect(cart.metadata('/big.bin')).toMatchObject({ sizeBytes: content.length, blockCount: 769 });
    expect(cart.stats().usedBlocks).toBe(769);
    cart.close();
    const reopened = open({ bufferPoolBytes: 0 });
    expect(reopened.readFile('/big.bin').equals(content)).toBe(true);
    expect(reopened.verify().ok).toBe(true);
  });

  it('appends past 1 MiB boundaries and aborts a large transaction without a trace', () => {
    const cart = create();
    const first = patternBytes(MIB + 1, 21);
    const second = patternBytes(2 * MIB, 22);
    cart.createFile('/log', first);
    cart.appendFile('/log', second);
    const headBefore = cart.head;
    expect(() =>
      cart.transaction(() => {
        cart.writeFile('/log', patternBytes(3 * MIB, 23));
        throw new Error('abort');
      }),
    ).toThrow('abort');
    expect(cart.head).toBe(headBefore);
    cart.close();
    expect(
      open()
        .readFile('/log')
        .equals(Buffer.concat([first, second])),
    ).toBe(true);
  });
});
