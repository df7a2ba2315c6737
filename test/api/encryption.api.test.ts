import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Cartridge,
  type CartridgeError,
  type CartridgeOptions,
  type CipherName,
  encryptionKeyId,
  isCartridgeError,
} from '../../src/index.js';

/**
 * Encryption at rest through the public API: round trips across reopen and key rotation with
 * both ciphers, the typed refusals of a wrong, missing or misplaced key, and a scan of the
 * file's raw bytes for anything written in clear. Tampering with the stored bytes is in
 * test/crash/encryption.crash.test.ts.
 */

const CIPHERS: readonly CipherName[] = ['aes-256-gcm', 'chacha20-poly1305'];

function keyNamed(name: string): Buffer {
  return createHash('sha256').update(name).digest();
}

const KEY_A = keyNamed('key a');
const KEY_B = keyNamed('key b');
const KEY_C = keyNamed('key c');

let directory: string;
let opened: Cartridge[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-encryption-'));
  opened = [];
});

afterEach(() => {
  for (const cart of opened) {
    try {
      cart.close();
    } catch {
      // A test that left a cartridge broken on purpose has already checked what it wanted.
    }
  }
  rmSync(directory, { recursive: true, force: true });
});

function create(name: string, options: CartridgeOptions): Cartridge {
  const cart = Cartridge.create(join(directory, name), options);
  opened.push(cart);
  return cart;
}

function open(name: string, options: CartridgeOptions): Cartridge {
  const cart = Cartridge.open(join(directory, name), options);
  opened.push(cart);
  return cart;
}

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (isCartridgeError(error)) return error.code;
    throw error;
  }
  return 'no error';
}

function errorOf(action: () => unknown): CartridgeError {
  try {
    action();
  } catch (error) {
    if (isCartridgeError(error)) return error;
    throw error;
  }
  throw new Error('expected an error');
}

/** Content that compresses well, so the scan also sees what compression would have hidden. */
function logText(marker: string, lineCount: number): Buffer {
  const lines: string[] = [];
  for (let line = 0; line < lineCount; line++) lines.push(`${marker} line ${line} status 200\n`);
  return Buffer.from(lines.join(''));
}

describe.each(CIPHERS)('an encrypted cartridge (%s)', (cipher) => {
  it('reads back what it wrote, across reopen, checkpoints and appends', () => {
    const cart = create('round.cart', { encryptionKey: KEY_A, cipher });
    expect(cart.encryption).toEqual({ cipher, keyId: encryptionKeyId(KEY_A) });
    const large = Buffer.alloc(3 * 1024 * 1024 + 123, 7);
    cart.createFile('/docs/readme.md', '# hello');
    cart.createFile('/big.bin', large);
    cart.createFile('/log.txt', '');
    for (let index = 0; index < 300; index++) cart.appendFile('/log.txt', `entry ${index}\n`);
    cart.createSnapshot('before', 'a named moment');
    cart.checkpoint();
    cart.writeFile('/docs/readme.md', '# changed');
    cart.close();

    const reopened = open('round.cart', { encryptionKey: KEY_A });
    expect(reopened.recovery.label).toBe('@clean');
    expect(reopened.encryption).toEqual({ cipher, keyId: encryptionKeyId(KEY_A) });
    expect(reopened.readFile('/docs/readme.md').toString()).toBe('# changed');
    expect(reopened.readFile('/big.bin').equals(large)).toBe(true);
    expect(reopened.readFile('/log.txt').toString().split('\n')).toHaveLength(301);
    expect(reopened.checkout('before').readFile('/docs/readme.md').toString()).toBe('# hello');
    expect(reopened.history('/docs/readme.md')).toHaveLength(2);
    expect(reopened.verify()).toMatchObject({ ok: true, stateMatches: true });
  });

  it('rotates its key: new records use the new key, old ones read through the keyring', () => {
    const cart = create('rotate.cart', { encryptionKey: KEY_A, cipher });
    cart.createFile('/old.txt', 'sealed with a');
    cart.checkpoint();
    const keyIdB = cart.rotateKey(KEY_B);
    expect(keyIdB).toBe(encryptionKeyId(KEY_B));
    expect(cart.encryption?.keyId).toBe(keyIdB);
    cart.createFile('/new.txt', 'sealed with b');
    expect(cart.readFile('/old.txt').toString()).toBe('sealed with a');
    cart.close();

    // The header names the new key: the old key alone is a wrong key now.
    expect(codeOf(() => open('rotate.cart', { encryptionKey: KEY_A }))).toBe('DECRYPTION_FAILED');
    // The new key alone cannot open what the old one sealed (the checkpoint, the old file).
    const missing = errorOf(() => open('rotate.cart', { encryptionKey: KEY_B }));
    expect(missing.code).toBe('KEY_REQUIRED');
    expect(missing.message).toContain(encryptionKeyId(KEY_A));

    const both = open('rotate.cart', { encryptionKey: KEY_B, keyring: [KEY_A] });
    expect(both.encryption?.keyId).toBe(keyIdB);
    expect(both.readFile('/old.txt').toString()).toBe('sealed with a');
    expect(both.readFile('/new.txt').toString()).toBe('sealed with b');
    // Rotate once more; three keys, each record readable with its own.
    both.rotateKey(KEY_C);
    both.createFile('/newest.txt', 'sealed with c');
    both.close();
    const three = open('rotate.cart', { encryptionKey: KEY_C, keyring: [KEY_B, KEY_A] });
    expect(three.readFile('/old.txt').toString()).toBe('sealed with a');
    expect(three.readFile('/new.txt').toString()).toBe('sealed with b');
    expect(three.readFile('/newest.txt').toString()).toBe('sealed with c');
    expect(three.verify()).toMatchObject({ ok: true, stateMatches: true });
  });

  it('refuses a wrong key before reading any record, and cuts nothing', () => {
    const cart = create('wrong.cart', { encryptionKey: KEY_A, cipher });
    cart.createFile('/a', 'alpha');
    cart.close();
    const path = join(directory, 'wrong.cart');
    const before = readFileSync(path);
    const wrong = errorOf(() => open('wrong.cart', { encryptionKey: KEY_B }));
    expect(wrong.code).toBe('DECRYPTION_FAILED');
    expect(wrong.message).not.toContain(KEY_B.toString('hex'));
    expect(codeOf(() => open('wrong.cart', { encryptionKey: KEY_B, readOnly: true }))).toBe(
      'DECRYPTION_FAILED',
    );
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(open('wrong.cart', { encryptionKey: KEY_A }).readFile('/a').toString()).toBe('alpha');
  });

  it('streams changes from the start and lets a read-only handle follow the writer', async () => {
    const cart = create('stream.cart', { encryptionKey: KEY_A, cipher });
    cart.createFile('/a', 'one');
    const seen: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const subscription = cart.changes({ from: 'start' }).subscribe({
        next: (event) => {
          if (event.path !== null) seen.push(`${event.type} ${event.path}`);
          if (seen.length === 2) {
            subscription.unsubscribe();
            resolve();
          }
        },
        error: reject,
      });
    });
    cart.createFile('/b', 'two');
    await done;
    expect(seen).toEqual(['file.created /a', 'file.created /b']);

    const reader = open('stream.cart', { encryptionKey: KEY_A, readOnly: true });
    cart.createFile('/c', 'three');
    cart.flush();
    reader.refresh();
    expect(reader.readFile('/c').toString()).toBe('three');
  });

  it('serves ranged reads and the fs facade from sealed records', () => {
    const cart = create('ranged.cart', { encryptionKey: KEY_A, cipher, bufferPoolBytes: 0 });
    const large = Buffer.alloc(2 * 1024 * 1024 + 77);
    for (let index = 0; index < large.length; index++) large[index] = (index * 31) % 251;
    cart.createFile('/large.bin', large);
    cart.fs.writeFileSync('/notes.txt', 'sealed notes');
    cart.close();
    const reopened = open('ranged.cart', { encryptionKey: KEY_A, bufferPoolBytes: 0 });
    const start = 1024 * 1024 - 10;
    const slice = reopened.readFile('/large.bin', { start, end: start + 100 });
    expect(slice.equals(large.subarray(start, start + 100))).toBe(true);
    expect(reopened.fs.readFileSync('/notes.txt', 'utf8')).toBe('sealed notes');
  });

  it('says KEY_REQUIRED without a key, and refuses a mismatched cipher', () => {
    create('missing.cart', { encryptionKey: KEY_A, cipher }).close();
    expect(codeOf(() => open('missing.cart', {}))).toBe('KEY_REQUIRED');
    expect(codeOf(() => open('missing.cart', { readOnly: true }))).toBe('KEY_REQUIRED');
    const other: CipherName = cipher === 'aes-256-gcm' ? 'chacha20-poly1305' : 'aes-256-gcm';
    expect(codeOf(() => open('missing.cart', { encryptionKey: KEY_A, cipher: other }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(open('missing.cart', { encryptionKey: KEY_A, cipher }).exists('/')).toBe(true);
  });

  it('leaves no path, name, policy, actor or content readable in the file', () => {
    const secrets = {
      directory: 'zq-directory-kestrel',
      file: 'zq-file-heron.txt',
      content: 'zq-content-pelican',
      appended: 'zq-appended-osprey',
      snapshot: 'zq-snapshot-plover',
      description: 'zq-description-lapwing',
      actor: 'zq-actor-curlew',
      sid: 'zq-sid-dunlin',
    };
    const cart = create('scan.cart', {
      encryptionKey: KEY_A,
      cipher,
      compression: 'none',
      audit: true,
      actor: secrets.actor,
    });
    cart.setPolicy({
      Statement: [{ Sid: secrets.sid, Effect: 'Allow', Action: 'All', Resource: '/**' }],
    });
    cart.createDir(`/${secrets.directory}`);
    const path = `/${secrets.directory}/${secrets.file}`;
    cart.createFile(path, logText(secrets.content, 400));
    for (let index = 0; index < 50; index++) cart.appendFile(path, `${secrets.appended} ${index}\n`);
    for (let index = 0; index < 200; index++) {
      cart.createFile(`/${secrets.directory}/many-${index}-${secrets.file}`, secrets.content);
    }
    cart.createSnapshot(secrets.snapshot, secrets.description);
    cart.readFile(path);
    cart.checkpoint();
    cart.close();

    const bytes = readFileSync(join(directory, 'scan.cart'));
    for (const [what, secret] of Object.entries(secrets)) {
      for (const encoding of ['utf8', 'utf16le'] as const) {
        expect(bytes.includes(Buffer.from(secret, encoding)), `${what} in ${encoding}`).toBe(false);
      }
    }
    // A plain cartridge written the same way does show them: the scan would find a leak.
    const plain = create('plain.cart', { compression: 'none' });
    plain.createFile(path.replace('/', '/plain-'), secrets.content);
    plain.close();
    expect(readFileSync(join(directory, 'plain.cart')).includes(secrets.content)).toBe(true);

    const reopened = open('scan.cart', { encryptionKey: KEY_A, actor: secrets.actor });
    expect(reopened.readFile(path).includes(secrets.appended)).toBe(true);
    expect(reopened.listSnapshots()[0]?.name).toBe(secrets.snapshot);
    expect(reopened.audit({ limit: 5 }).length).toBeGreaterThan(0);
  });
});

describe('encryption options', () => {
  it('refuses keys of the wrong shape without echoing them', () => {
    const short = Buffer.from('0123456789abcdef0123456789abcde', 'utf8');
    const refused = errorOf(() => create('short.cart', { encryptionKey: short }));
    expect(refused.code).toBe('INVALID_ARGUMENT');
    expect(refused.message).not.toContain('0123456789');
    expect(codeOf(() => create('text.cart', { encryptionKey: 'k'.repeat(32) as never }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(
      codeOf(() => create('ring.cart', { encryptionKey: KEY_A, keyring: [short] })),
    ).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => create('cipher.cart', { cipher: 'aes-256-gcm' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(
      codeOf(() => create('rc4.cart', { encryptionKey: KEY_A, cipher: 'rc4' as CipherName })),
    ).toBe('INVALID_ARGUMENT');
  });

  it('refuses a key for a plain cartridge, and a rotation of one', () => {
    const plain = create('plain.cart', {});
    expect(plain.encryption).toBeNull();
    expect(codeOf(() => plain.rotateKey(KEY_A))).toBe('INVALID_ARGUMENT');
    plain.close();
    expect(codeOf(() => open('plain.cart', { encryptionKey: KEY_A }))).toBe('INVALID_ARGUMENT');
  });

  it('refuses a rotation to the current key, inside a transaction, or by a denied actor', () => {
    const cart = create('rules.cart', { encryptionKey: KEY_A });
    expect(codeOf(() => cart.rotateKey(KEY_A))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => cart.transaction(() => cart.rotateKey(KEY_B)))).toBe('INVALID_ARGUMENT');
    cart.setPolicy({
      Statement: [
        {
          Effect: 'Allow',
          Action: 'All',
          Resource: '/**',
          Condition: { StringEquals: { 'cartridge:actor': 'local' } },
        },
        { Effect: 'Allow', Action: 'Read', Resource: '/**' },
      ],
    });
    const head = cart.head;
    expect(codeOf(() => cart.as('guest').rotateKey(KEY_B))).toBe('EACCES');
    expect(cart.head).toBe(head);
    // A refused rotation leaves the old key current.
    expect(cart.encryption?.keyId).toBe(encryptionKeyId(KEY_A));
    cart.createFile('/still-a', 'x');
    cart.close();
    expect(open('rules.cart', { encryptionKey: KEY_A }).readFile('/still-a').toString()).toBe('x');
  });

  it('gives key ids derived from the key', () => {
    expect(encryptionKeyId(KEY_A)).toMatch(/^[0-9a-f]{8}$/);
    expect(encryptionKeyId(Uint8Array.from(KEY_A))).toBe(encryptionKeyId(KEY_A));
    expect(encryptionKeyId(KEY_B)).not.toBe(encryptionKeyId(KEY_A));
    expect(codeOf(() => encryptionKeyId(Buffer.alloc(16)))).toBe('INVALID_ARGUMENT');
  });

  it('keeps working when the caller wipes the key it passed', () => {
    const key = Buffer.from(KEY_A);
    const cart = create('wiped.cart', { encryptionKey: key });
    key.fill(0);
    cart.createFile('/a', 'alpha');
    cart.close();
    expect(open('wiped.cart', { encryptionKey: KEY_A }).readFile('/a').toString()).toBe('alpha');
  });
});
