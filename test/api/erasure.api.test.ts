import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cartridge, type PathVersion, verifyProof } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';
import { readForgeable } from '../support/journal-forger.js';

/**
 * Erasure inside immutable history, through the public API on real files: redaction removes
 * the bytes of chosen versions from the file (a raw scan finds none), everything else reads,
 * `verify()` still reaches `signed`, proofs of other records and of the redacted one still
 * check, and the redacted versions are `REDACTED` at the head, in checkouts, after reopen and
 * through the fs facade (`ENODATA`). Crypto-shredding makes every version of one subject's
 * content `SHREDDED`, in the file and in copies made afterwards, while other subjects and
 * paths read and verify, across a key rotation too.
 */

const SUBJECT_KEY = 22;
const CONTENT_ERASED = 21;

let directory: string;
let keys: { privateKey: KeyObject; publicKey: KeyObject };

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-erasure-'));
  keys = generateKeyPairSync('ed25519');
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

let fileCount = 0;
function freshPath(): string {
  fileCount++;
  return join(directory, `erasure-${fileCount}.cart`);
}

/** A token that occurs once in the whole test run: a scan for it finds only its own bytes. */
function token(name: string): string {
  return `${name}-${randomBytes(8).toString('hex')}`;
}

function scan(path: string, text: string): boolean {
  return readFileSync(path).includes(Buffer.from(text, 'utf8'));
}

describe('redact', () => {
  it("removes the past versions' bytes and keeps the chain, the signatures and the proofs", () => {
    const path = freshPath();
    const first = token('first');
    const second = token('second');
    const current = token('current');
    const other = token('other');
    const cart = Cartridge.create(path, { compression: 'none', audit: true });
    cart.createFile('/calls/a.txt', `${first} ${'x'.repeat(5000)}`);
    cart.writeFile('/calls/a.txt', `${second} ${'y'.repeat(2_500_000)}`);
    cart.createFile('/calls/b.txt', other);
    cart.writeFile('/calls/a.txt', current);
    const versions: PathVersion[] = cart.history('/calls/a.txt');
    expect(versions).toHaveLength(3);
    cart.signCheckpoint(keys.privateKey);
    expect(scan(path, first) && scan(path, second)).toBe(true);

    const result = cart.redact('/calls/a.txt', { versions: 'past' });
    expect(result.versionsRedacted).toBe(2);
    // The second version is a data record of 1 MiB, one more, and the record's own chunk.
    expect(result.recordsErased).toBe(4);
    expect(result.bytesErased).toBeGreaterThan(2_500_000);

    expect(scan(path, first)).toBe(false);
    expect(scan(path, second)).toBe(false);
    expect(scan(path, current)).toBe(true);
    expect(cart.readFile('/calls/a.txt').toString()).toBe(current);
    expect(cart.readFile('/calls/b.txt').toString()).toBe(other);
    for (const version of versions.slice(1)) {
      expectCode(() => cart.checkout(version.position).readFile('/calls/a.txt'), 'REDACTED');
    }
    // The history itself (who changed what, when) is kept: only content is removed.
    expect(cart.history('/calls/a.txt').map((version) => version.offset)).toEqual(
      versions.map((version) => version.offset),
    );
    const report = cart.verify({ publicKey: keys.publicKey });
    expect(report).toMatchObject({ ok: true, assurance: 'signed', stateMatches: true });
    expect(report.erasedRecords).toBe(4);

    // Proofs: of another record, and of the redacted version's own record.
    cart.signCheckpoint(keys.privateKey);
    const otherVersion = cart.history('/calls/b.txt')[0] as PathVersion;
    const otherProof = JSON.parse(JSON.stringify(cart.proveRecord(otherVersion.position)));
    expect(verifyProof(otherProof, keys.publicKey).offset).toBe(otherVersion.offset);
    const redacted = versions[2] as PathVersion;
    const redactedProof = JSON.parse(JSON.stringify(cart.proveRecord(redacted.position)));
    expect(verifyProof(redactedProof, keys.publicKey).offset).toBe(redacted.offset);

    // Audited: an administrative operation, and a `Delete` on the path.
    const entries = cart.audit({});
    expect(entries.some((entry) => entry.action === 'All' && entry.path === '/')).toBe(true);
    expect(
      entries.some((entry) => entry.action === 'Delete' && entry.path === '/calls/a.txt'),
    ).toBe(true);
    cart.close();

    const reopened = Cartridge.open(path);
    expect(reopened.readFile('/calls/a.txt').toString()).toBe(current);
    expectCode(
      () => reopened.checkout((versions[1] as PathVersion).position).readFile('/calls/a.txt'),
      'REDACTED',
    );
    expect(reopened.verify({ publicKey: keys.publicKey })).toMatchObject({
      ok: true,
      assurance: 'signed',
    });
    reopened.close();
    expect(Cartridge.verifyFile(path, { publicKey: keys.publicKey })).toMatchObject({
      ok: true,
      assurance: 'signed',
      erasedRecords: 4,
    });
  });

  it('keeps the records a kept version shares; erases them once no version holds them', () => {
    const path = freshPath();
    const cart = Cartridge.create(path, { compression: 'none' });
    const head = token('head');
    const tail = token('tail');
    cart.createFile('/log.txt', `${head}\n`);
    cart.appendFile('/log.txt', `${tail}\n`);
    const first = cart.history('/log.txt')[1] as PathVersion;
    const result = cart.redact('/log.txt', { versions: 'past' });
    // The first version's record is the current version's first extent too: its bytes stay,
    // but the version itself reads as redacted.
    expect(result).toMatchObject({ versionsRedacted: 1, recordsErased: 0 });
    expect(cart.readFile('/log.txt').toString()).toBe(`${head}\n${tail}\n`);
    expectCode(() => cart.checkout(first.position).readFile('/log.txt'), 'REDACTED');
    expect(cart.redact('/log.txt', { versions: 'all' }).recordsErased).toBe(2);
    expectCode(() => cart.readFile('/log.txt'), 'REDACTED');
    expect(scan(path, head) || scan(path, tail)).toBe(false);
    // Once gone, it is gone: a second redaction erases nothing more.
    expect(cart.redact('/log.txt', { versions: 'all' }).recordsErased).toBe(0);
    // Writing the file anew gives it readable content again.
    cart.writeFile('/log.txt', 'fresh');
    expect(cart.readFile('/log.txt').toString()).toBe('fresh');
    expect(cart.verify().ok).toBe(true);
    cart.close();
  });

  it('erases shared bytes once every version holding them is redacted, one call at a time', () => {
    const path = freshPath();
    const cart = Cartridge.create(path, { compression: 'none' });
    const first = token('first');
    cart.createFile('/a.txt', first);
    cart.appendFile('/a.txt', token('second'));
    const [appended, created] = cart.history('/a.txt') as [PathVersion, PathVersion];
    expect(cart.redact('/a.txt', { versions: [created.position] }).recordsErased).toBe(0);
    expect(scan(path, first)).toBe(true);
    // The version redacted before keeps nothing: the first record goes with the second version.
    expect(cart.redact('/a.txt', { versions: [appended.position] }).recordsErased).toBe(2);
    expect(scan(path, first)).toBe(false);
    cart.close();
  });

  it('redacts the versions named, and refuses what is not a version of the path', () => {
    const cart = Cartridge.memory({ compression: 'none' });
    cart.createFile('/a.txt', 'one');
    cart.writeFile('/a.txt', 'two');
    cart.writeFile('/a.txt', 'three');
    cart.createFile('/b.txt', 'b');
    const [three, two, one] = cart.history('/a.txt') as [PathVersion, PathVersion, PathVersion];
    expect(cart.redact('/a.txt', { versions: [two.position] }).recordsErased).toBe(1);
    expectCode(() => cart.checkout(two.position).readFile('/a.txt'), 'REDACTED');
    expect(cart.checkout(one.position).readFile('/a.txt').toString()).toBe('one');
    expect(cart.checkout(three.position).readFile('/a.txt').toString()).toBe('three');
    const other = cart.history('/b.txt')[0] as PathVersion;
    expectCode(() => cart.redact('/a.txt', { versions: [other.position] }), 'INVALID_ARGUMENT');
    expectCode(() => cart.redact('/a.txt', { versions: [] }), 'INVALID_ARGUMENT');
    expectCode(
      () => cart.redact('/a.txt', { versions: 'some' as unknown as 'all' }),
      'INVALID_ARGUMENT',
    );
    expectCode(() => cart.redact('/missing.txt', { versions: 'all' }), 'ENOENT');
    expectCode(
      () => cart.transaction(() => cart.redact('/a.txt', { versions: 'past' })),
      'INVALID_ARGUMENT',
    );
    expect(cart.verify().ok).toBe(true);
    cart.close();
  });

  it('redacts the past pages of a SQLite database: an old checkout refuses it', async () => {
    await Cartridge.loadSqlite();
    const cart = Cartridge.memory();
    const db = cart.openDatabase('/app.db');
    db.exec('CREATE TABLE t (v TEXT)');
    db.prepare('INSERT INTO t VALUES (?)').run('secret row');
    const before = cart.head;
    db.prepare('UPDATE t SET v = ?').run('new row');
    db.close();
    expect(cart.redact('/app.db', { versions: 'past' }).recordsErased).toBeGreaterThan(0);
    expectCode(() => cart.checkout(before).openDatabase('/app.db'), 'REDACTED');
    const now = cart.openDatabase('/app.db');
    expect(now.prepare('SELECT v FROM t').all()).toEqual([{ v: 'new row' }]);
    now.close();
    expect(cart.verify().ok).toBe(true);
    cart.close();
  });

  it('refuses to freeze a state whose content was redacted, and freezes the state after', () => {
    const cart = Cartridge.memory();
    cart.createFile('/a.txt', 'secret');
    const before = cart.head;
    cart.writeFile('/a.txt', 'kept');
    cart.redact('/a.txt', { versions: 'past' });
    const options = { name: 'erasure', version: '1.0.0', author: 'tester' };
    expectCode(
      () => cart.freeze(join(directory, 'before.engram'), { ...options, at: before }),
      'REDACTED',
    );
    expect(existsSync(join(directory, 'before.engram'))).toBe(false);
    const result = cart.freeze(join(directory, 'now.engram'), options);
    expect(result.fileCount).toBe(1);
    cart.close();
  });

  it('gives ENODATA through the fs facade, with REDACTED as the cause', () => {
    const cart = Cartridge.memory();
    cart.createFile('/a.txt', 'secret');
    cart.redact('/a.txt', { versions: 'all' });
    let thrown: unknown;
    try {
      cart.fs.readFileSync('/a.txt');
    } catch (error) {
      thrown = error;
    }
    expect((thrown as { code?: string }).code).toBe('ENODATA');
    expect((thrown as { cause?: { code?: string } }).cause?.code).toBe('REDACTED');
    cart.close();
  });

  it('goes through the access policy', () => {
    const cart = Cartridge.memory({ audit: true });
    cart.createFile('/a.txt', 'one');
    cart.writeFile('/a.txt', 'two');
    cart.setPolicy({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'All', Resource: '/**', Condition: adminOnly() },
        { Effect: 'Allow', Action: ['Read', 'Write', 'Create', 'List'], Resource: '/**' },
      ],
    });
    const clerk = cart.as('clerk');
    expectCode(() => clerk.redact('/a.txt', { versions: 'past' }), 'EACCES');
    expect(cart.checkout(cart.history('/a.txt')[1]!.position).readFile('/a.txt').toString()).toBe(
      'one',
    );
    expect(cart.as('admin').redact('/a.txt', { versions: 'past' }).recordsErased).toBe(1);
    cart.close();
  });

  it('redacts in an encrypted cartridge, verified without the key', () => {
    const path = freshPath();
    const encryptionKey = randomBytes(32);
    const cart = Cartridge.create(path, { encryptionKey });
    cart.createFile('/a.txt', 'old secret');
    cart.writeFile('/a.txt', 'new');
    const old = cart.history('/a.txt')[1] as PathVersion;
    const storedBefore = readForgeable(path).records.find((record) => record.offset === old.offset);
    cart.signCheckpoint(keys.privateKey);
    cart.redact('/a.txt', { versions: 'past' });
    expectCode(() => cart.checkout(old.position).readFile('/a.txt'), 'REDACTED');
    cart.close();
    // The sealed bytes of the old version are gone, not only unreadable.
    const sealedBlob = storedBefore?.storedBlob as Buffer;
    expect(sealedBlob.length).toBeGreaterThan(16);
    expect(readFileSync(path).includes(sealedBlob)).toBe(false);
    const erasure = readForgeable(path).records.find((record) => record.type === CONTENT_ERASED);
    // Stored in the clear (no sealed flag): checked without the key.
    expect((erasure?.flags ?? 0) & 0b1_0000).toBe(0);
    expect(Cartridge.verifyFile(path, { publicKey: keys.publicKey })).toMatchObject({
      ok: true,
      assurance: 'signed',
      stateChecked: false,
      erasedRecords: 1,
    });
    expect(Cartridge.verifyFile(path, { publicKey: keys.publicKey, encryptionKey })).toMatchObject({
      ok: true,
      assurance: 'signed',
      stateChecked: true,
    });
  });
});

function adminOnly(): Record<string, unknown> {
  return { StringEquals: { 'cartridge:actor': 'admin' } };
}

describe('shred', () => {
  function subjectOptions(encryptionKey: Buffer) {
    return {
      encryptionKey,
      compression: 'none' as const,
      encryption: { perSubjectKeys: true, subjectRoot: '/calls' },
    };
  }

  it("makes every version of a subject's content unreadable, in the file and later copies", () => {
    const path = freshPath();
    const encryptionKey = randomBytes(32);
    const cart = Cartridge.create(path, subjectOptions(encryptionKey));
    cart.createFile('/calls/jane/a.txt', 'jane one');
    cart.writeFile('/calls/jane/a.txt', `jane two ${'z'.repeat(1_500_000)}`);
    cart.createFile('/calls/jane/b.txt', 'jane b');
    cart.createFile('/calls/bob/a.txt', 'bob');
    cart.createFile('/notes.txt', 'no subject');
    expect(cart.subjectOf('/calls/jane/a.txt')).toBe('/calls/jane');
    expect(cart.subjectOf('/notes.txt')).toBeNull();
    const versions = cart.history('/calls/jane/a.txt');
    cart.signCheckpoint(keys.privateKey);
    const before = join(directory, `before-${fileCount}.cart`);
    copyFileSync(path, before);
    const wrappedKeys = readForgeable(path).records.filter((record) => record.type === SUBJECT_KEY);
    expect(wrappedKeys).toHaveLength(2);

    expect(cart.shred('/calls/jane')).toEqual({ keysShredded: 1 });
    expectCode(() => cart.readFile('/calls/jane/a.txt'), 'SHREDDED');
    expectCode(() => cart.readFile('/calls/jane/b.txt'), 'SHREDDED');
    for (const version of versions) {
      expectCode(() => cart.checkout(version.position).readFile('/calls/jane/a.txt'), 'SHREDDED');
    }
    // Paths and metadata stay: only content is shredded.
    expect(cart.listDir('/calls/jane').sort()).toEqual(['a.txt', 'b.txt']);
    expect(cart.readFile('/calls/bob/a.txt').toString()).toBe('bob');
    expect(cart.readFile('/notes.txt').toString()).toBe('no subject');
    expect(cart.verify({ publicKey: keys.publicKey })).toMatchObject({
      ok: true,
      assurance: 'signed',
      erasedRecords: 1,
    });
    // Idempotent; the subject gets a fresh key when written to again.
    expect(cart.shred('/calls/jane')).toEqual({ keysShredded: 0 });
    cart.createFile('/calls/jane/c.txt', 'after');
    expect(cart.readFile('/calls/jane/c.txt').toString()).toBe('after');
    expectCode(() => cart.readFile('/calls/jane/a.txt'), 'SHREDDED');
    cart.close();

    // The wrapped key's stored bytes are gone from the file; Bob's are still there.
    const bytes = readFileSync(path);
    const jane = wrappedKeys.find(
      (record) => record.body.length > 0 && bytes.includes(record.body),
    );
    expect(jane).toBeDefined();
    const janeKey = wrappedKeys[0] as (typeof wrappedKeys)[number];
    const bobKey = wrappedKeys[1] as (typeof wrappedKeys)[number];
    expect(bytes.includes(janeKey.storedBlob)).toBe(false);
    expect(bytes.includes(bobKey.storedBlob)).toBe(true);

    // A copy made after the shred, opened with the cartridge key: nothing of Jane's opens.
    const after = join(directory, `after-${fileCount}.cart`);
    copyFileSync(path, after);
    const copy = Cartridge.open(after, { encryptionKey, readOnly: true });
    expectCode(() => copy.readFile('/calls/jane/a.txt'), 'SHREDDED');
    expect(copy.readFile('/calls/jane/c.txt').toString()).toBe('after');
    expect(copy.readFile('/calls/bob/a.txt').toString()).toBe('bob');
    copy.close();
    // A copy made before still holds the key: shredding reaches what exists when it runs.
    const old = Cartridge.open(before, { encryptionKey, readOnly: true });
    expect(old.readFile('/calls/jane/a.txt').subarray(0, 8).toString()).toBe('jane two');
    old.close();
    expect(Cartridge.verifyFile(path, { publicKey: keys.publicKey })).toMatchObject({
      ok: true,
      assurance: 'signed',
    });
  });

  it('keeps subject keys readable across a key rotation, and shreds after it', () => {
    const path = freshPath();
    const firstKey = randomBytes(32);
    const secondKey = randomBytes(32);
    const cart = Cartridge.create(path, subjectOptions(firstKey));
    cart.createFile('/calls/ann/a.txt', 'ann before');
    cart.rotateKey(secondKey);
    cart.createFile('/calls/ann/b.txt', 'ann after');
    cart.createFile('/calls/cy/a.txt', 'cy after');
    cart.close();
    const reopened = Cartridge.open(path, {
      ...subjectOptions(secondKey),
      keyring: [firstKey],
    });
    expect(reopened.readFile('/calls/ann/a.txt').toString()).toBe('ann before');
    expect(reopened.readFile('/calls/ann/b.txt').toString()).toBe('ann after');
    reopened.shred('/calls/ann');
    expectCode(() => reopened.readFile('/calls/ann/b.txt'), 'SHREDDED');
    expect(reopened.readFile('/calls/cy/a.txt').toString()).toBe('cy after');
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });

  it('refuses what it cannot do', () => {
    expectCode(
      () => Cartridge.memory({ encryption: { perSubjectKeys: true } }),
      'INVALID_ARGUMENT',
    );
    const plain = Cartridge.memory();
    expectCode(() => plain.shred('/calls/jane'), 'INVALID_ARGUMENT');
    plain.close();
    const cart = Cartridge.memory({
      encryptionKey: randomBytes(32),
      encryption: { perSubjectKeys: true, subjectRoot: '/calls' },
    });
    cart.createFile('/calls/jane/a.txt', 'jane');
    cart.close();
  });

  it('refuses a subject that would contain another', () => {
    const path = freshPath();
    const encryptionKey = randomBytes(32);
    const cart = Cartridge.create(path, subjectOptions(encryptionKey));
    cart.createFile('/calls/jane/a.txt', 'jane');
    cart.close();
    const wider = Cartridge.open(path, {
      encryptionKey,
      encryption: { perSubjectKeys: true, subjectRoot: '/' },
    });
    // `/calls/jane` keeps its subject; `/calls` would contain it.
    wider.createFile('/calls/jane/b.txt', 'still jane');
    expect(wider.subjectOf('/calls/jane/b.txt')).toBe('/calls/jane');
    expectCode(() => wider.createFile('/calls/other.txt', 'x'), 'INVALID_ARGUMENT');
    wider.close();
  });
});
