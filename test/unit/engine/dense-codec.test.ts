import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../../src/index.js';
import { Codec } from '../../../src/journal/compression.js';
import { RecordType } from '../../../src/journal/journal-event.js';
import { nativeLz4 } from '../../../src/journal/native-lz4.js';
import { readForgeable } from '../../support/journal-forger.js';

/**
 * Consolidated runs of appends are written with LZ4 where the LZ4 addon decodes it, and with
 * zstd's dense settings where it does not (see `compression.ts`). Either cartridge reads on
 * either kind of installation: the child process runs with the addon turned off.
 */

const CHILD = join('test', 'support', 'log-child.ts');
const LINES = 3000;
let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-dense-codec-'));
});

afterEach(() => rmSync(directory, { recursive: true, force: true }));

interface ChildReport {
  readonly decoder: string;
  readonly sha256: string;
  readonly lengthBytes: number;
}

function child(path: string, mode: 'create' | 'read', addon: boolean): ChildReport {
  const output = execFileSync(
    process.execPath,
    ['--import', 'tsx', CHILD, path, mode, `${LINES}`],
    {
      env: { ...process.env, CARTRIDGE_NATIVE_LZ4: addon ? '1' : '0' },
      encoding: 'utf8',
    },
  );
  return JSON.parse(output) as ChildReport;
}

/** Line `index` of the log, as `log-child.ts` appends it. */
function logLine(index: number): string {
  return `{"call":${index},"agent":"agent-${index % 31}"}\n`;
}

function expectedLog(): Buffer {
  return Buffer.from(Array.from({ length: LINES }, (_, index) => logLine(index)).join(''));
}

/** The file has several consolidated runs, every one stored with `codec`. */
function expectConsolidatedWith(path: string, codec: Codec): void {
  const codecs = readForgeable(path)
    .records.filter((record) => record.type === RecordType.ExtentsConsolidated)
    .map((record) => record.flags & 0b11);
  expect(codecs.length).toBeGreaterThan(1);
  expect(codecs.every((used) => used === codec)).toBe(true);
}

describe('the codec of consolidated runs', () => {
  it.skipIf(nativeLz4 === undefined)(
    'is LZ4 with the addon, and such a log reads back without it',
    () => {
      const path = join(directory, 'lz4.cart');
      const written = child(path, 'create', true);
      expect(written.decoder).toBe('addon');
      expectConsolidatedWith(path, Codec.Lz4);
      const expected = expectedLog();
      const digest = createHash('sha256').update(expected).digest('hex');
      expect(written).toMatchObject({ sha256: digest, lengthBytes: expected.length });
      expect(child(path, 'read', false)).toMatchObject({ decoder: 'library', sha256: digest });
      const cartridge = Cartridge.open(path);
      expect(cartridge.readFile('/audit.log').equals(expected)).toBe(true);
      expect(cartridge.verify().ok).toBe(true);
      cartridge.close();
    },
  );

  it('decodes the runs of an encrypted log together, each from its own plaintext', () => {
    // Each sealed blob is opened into a buffer of its own before it waits in the read's decode
    // batch: a shared buffer would leave every run decoded from the last one's bytes.
    const path = join(directory, 'sealed.cart');
    const encryptionKey = Buffer.alloc(32, 7);
    const cartridge = Cartridge.create(path, { encryptionKey });
    cartridge.createFile('/audit.log', '');
    for (let index = 0; index < LINES; index++) cartridge.appendFile('/audit.log', logLine(index));
    cartridge.close();
    expectConsolidatedWith(path, nativeLz4 === undefined ? Codec.Zstd : Codec.Lz4);
    const reopened = Cartridge.open(path, { encryptionKey });
    expect(reopened.readFile('/audit.log').equals(expectedLog())).toBe(true);
    reopened.close();
  });

  it('is zstd without the addon, and such a log reads back with it', () => {
    const path = join(directory, 'zstd.cart');
    const written = child(path, 'create', false);
    expect(written.decoder).toBe('library');
    expectConsolidatedWith(path, Codec.Zstd);
    const cartridge = Cartridge.open(path);
    expect(cartridge.readFile('/audit.log').equals(expectedLog())).toBe(true);
    cartridge.close();
  });
});
