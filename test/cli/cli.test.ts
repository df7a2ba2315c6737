import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The `cartridge` binary, run as users run it: the package's `bin`, `dist/engine/cli.js` (the
 * CLI's bundle with its code cache), in a child process, in a temp directory, checking stdout,
 * `--json` output and exit codes. The binary is built first when it is missing or older than
 * the sources (CI builds before the tests).
 */

const BINARY = join(process.cwd(), 'dist', 'engine', 'cli.js');

function newestSourceMs(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

let work: string;
let cart: string;

beforeAll(() => {
  if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < newestSourceMs('src')) {
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], {
      stdio: 'inherit',
    });
    execFileSync(process.execPath, ['tools/bundle-engine.mjs'], { stdio: 'inherit' });
  }
  work = mkdtempSync(join(tmpdir(), 'cartridge-cli-'));
  cart = join(work, 'demo.cart');
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(args: readonly string[], input?: string): Run {
  const result = spawnSync(process.execPath, [BINARY, ...args], {
    cwd: work,
    input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json(args: readonly string[]): unknown {
  const run = cli(['--json', ...args]);
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

describe('the cartridge binary', () => {
  it('creates a cartridge, stores and reads files, lists them', () => {
    expect(cli(['init', cart]).status).toBe(0);
    expect(cli(['put', cart, '/calls/1.json'], '{"call":1}').status).toBe(0);
    writeFileSync(join(work, 'local.txt'), 'from the host');
    expect(cli(['put', cart, '/docs/readme.txt', join(work, 'local.txt')]).status).toBe(0);
    expect(cli(['cat', cart, '/calls/1.json']).stdout).toBe('{"call":1}');
    expect(cli(['ls', cart, '-R']).stdout.split('\n').filter(Boolean)).toEqual([
      'calls/',
      'calls/1.json',
      'docs/',
      'docs/readme.txt',
    ]);
    const listed = json(['ls', cart, '/docs']) as { path: string; sizeBytes: number }[];
    expect(listed).toEqual([expect.objectContaining({ path: 'readme.txt', sizeBytes: 13 })]);
    expect(cli(['get', cart, '/docs/readme.txt', join(work, 'out.txt')]).status).toBe(0);
    expect(readFileSync(join(work, 'out.txt'), 'utf8')).toBe('from the host');
    const info = json(['info', cart]) as { fileCount: number; cartridgeId: string };
    expect(info.cartridgeId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('moves, removes, snapshots, diffs and restores', () => {
    const before = json(['info', cart]) as { journalBytes: number };
    expect(cli(['mv', cart, '/docs', '/manuals']).status).toBe(0);
    // A move writes paths, not content: the journal grows by one small commit.
    const after = json(['info', cart]) as { journalBytes: number };
    expect(after.journalBytes - before.journalBytes).toBeLessThan(512);
    const log = cli(['--json', 'log', cart, '--from', 'start']).stdout.trim().split('\n');
    expect(JSON.parse(log.at(-1) as string)).toMatchObject({
      type: 'path.moved',
      path: '/manuals',
      from: '/docs',
    });
    expect(cli(['log', cart]).stdout).toContain('path.moved  /manuals (from /docs)');
    expect(cli(['snapshot', 'create', cart, 'before-cleanup', '-m', 'keep']).status).toBe(0);
    expect(cli(['rm', cart, '/manuals', '-r']).status).toBe(0);
    const diff = json(['diff', cart, 'before-cleanup']) as { path: string; change: string }[];
    expect(diff.map((entry) => `${entry.change} ${entry.path}`)).toEqual([
      'removed /manuals',
      'removed /manuals/readme.txt',
    ]);
    const snapshots = json(['snapshot', 'list', cart]) as { name: string }[];
    expect(snapshots.map((snapshot) => snapshot.name)).toEqual(['before-cleanup']);
    expect(cli(['restore', cart, 'before-cleanup']).status).toBe(0);
    expect(cli(['cat', cart, '/manuals/readme.txt']).stdout).toBe('from the host');
  });

  it('imports and exports trees, now and as they were', () => {
    const source = join(work, 'tree');
    mkdirSync(join(source, 'a', 'b'), { recursive: true });
    writeFileSync(join(source, 'a', 'one.txt'), '1');
    writeFileSync(join(source, 'a', 'b', 'two.txt'), '22');
    const head = (json(['info', cart]) as { head: number }).head;
    const imported = json(['import', cart, source, '--to', '/imported']) as { files: number };
    expect(imported.files).toBe(2);
    expect(cli(['export', cart, join(work, 'now'), '--from', '/imported']).status).toBe(0);
    expect(readFileSync(join(work, 'now', 'a', 'b', 'two.txt'), 'utf8')).toBe('22');
    expect(cli(['checkout', cart, join(work, 'then'), '--at', String(head)]).status).toBe(0);
    expect(existsSync(join(work, 'then', 'imported'))).toBe(false);
    expect(existsSync(join(work, 'then', 'calls', '1.json'))).toBe(true);
  });

  it('prints the log, verifies, and sets a policy that the audit trail reflects', () => {
    const log = cli(['log', cart, '--limit', '2']).stdout.trim().split('\n');
    expect(log).toHaveLength(2);
    expect(log[0]).toContain('directory.created');
    const report = json(['verify', cart]) as { ok: boolean };
    expect(report.ok).toBe(true);
    const policyPath = join(work, 'policy.json');
    writeFileSync(
      policyPath,
      JSON.stringify({
        Statement: [
          {
            Effect: 'Allow',
            Action: 'All',
            Resource: '/**',
            Condition: { StringEquals: { 'cartridge:actor': 'local' } },
          },
          { Effect: 'Allow', Action: ['Read', 'List'], Resource: '/calls/**' },
        ],
      }),
    );
    expect(cli(['policy', 'set', cart, policyPath]).status).toBe(0);
    expect(cli(['--actor', 'agent', 'cat', cart, '/calls/1.json']).status).toBe(0);
    const denied = cli(['--actor', 'agent', 'rm', cart, '/calls/1.json']);
    expect(denied.status).toBe(5);
    expect(denied.stderr).toContain('EACCES');
  });

  it('runs SQL on a database inside the cartridge, now and as it was', () => {
    expect(
      cli([
        'sql',
        cart,
        '/data/calls.db',
        'CREATE TABLE calls (id INTEGER PRIMARY KEY, agent TEXT)',
      ]).status,
    ).toBe(0);
    const head = (json(['info', cart]) as { head: number }).head;
    expect(
      cli(['sql', cart, '/data/calls.db', "INSERT INTO calls (agent) VALUES ('ada')"]).stdout,
    ).toContain('1 rows changed');
    expect(json(['sql', cart, '/data/calls.db', 'SELECT agent FROM calls'])).toEqual([
      { agent: 'ada' },
    ]);
    expect(
      json([
        'sql',
        cart,
        '/data/calls.db',
        'SELECT count(*) AS n FROM calls',
        '--at',
        String(head),
      ]),
    ).toEqual([{ n: 0 }]);
  });

  it('freezes into a signed Engram archive, lists, reads, verifies and thaws it', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyPath = join(work, 'engram-key.pem');
    const publicPath = join(work, 'engram-public.pem');
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));
    const archive = join(work, 'calls.eng');
    const frozen = cli([
      'freeze',
      cart,
      archive,
      '--name',
      'calls',
      '--author',
      'ops',
      '--signing-key',
      keyPath,
    ]);
    expect(frozen.status, frozen.stderr).toBe(0);
    const entries = json(['engram', 'ls', archive]) as { path: string }[];
    expect(entries.map((entry) => entry.path)).toContain('calls/1.json');
    expect(cli(['engram', 'cat', archive, 'calls/1.json']).stdout).toBe('{"call":1}');
    expect(json(['engram', 'verify', archive, '--public-key', publicPath])).toMatchObject({
      signed: true,
      trusted: true,
    });
    const thawed = join(work, 'thawed.cart');
    expect(cli(['engram', 'thaw', archive, thawed]).status).toBe(0);
    expect(cli(['cat', thawed, '/calls/1.json']).stdout).toBe('{"call":1}');
  });

  it('signs a head, exports an anchor and verifies against both', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const keyPath = join(work, 'signing.pem');
    const publicPath = join(work, 'public.pem');
    writeFileSync(keyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));
    expect(cli(['sign', cart, keyPath]).status).toBe(0);
    const anchorPath = join(work, 'anchor.json');
    const head = cli(['--json', 'head', cart]);
    writeFileSync(anchorPath, head.stdout);
    const report = json(['verify', cart, '--public-key', publicPath, '--anchor', anchorPath]) as {
      ok: boolean;
      assurance: string;
    };
    expect(report).toMatchObject({ ok: true, assurance: 'anchored' });
  });

  it('works on an encrypted cartridge with --key-file, and verifies it without the key', () => {
    const encrypted = join(work, 'secret.cart');
    const hexKeyPath = join(work, 'key.hex');
    const rawKeyPath = join(work, 'key.bin');
    const key = Buffer.from(
      '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
      'hex',
    );
    writeFileSync(hexKeyPath, `${key.toString('hex')}\n`);
    writeFileSync(rawKeyPath, key);
    expect(cli(['--key-file', hexKeyPath, 'init', encrypted]).status).toBe(0);
    expect(
      cli(['--key-file', rawKeyPath, 'put', encrypted, '/calls/1.json'], '{"call":1}').status,
    ).toBe(0);
    expect(readFileSync(encrypted).includes(Buffer.from('/calls/1.json'))).toBe(false);
    expect(cli(['--key-file', hexKeyPath, 'cat', encrypted, '/calls/1.json']).stdout).toBe(
      '{"call":1}',
    );
    // Without the key, opening fails; a key file that is not a key is a usage mistake.
    const missing = cli(['--json', 'cat', encrypted, '/calls/1.json']);
    expect(missing.status).not.toBe(0);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'KEY_REQUIRED' } });
    const notAKeyPath = join(work, 'not-a-key.txt');
    writeFileSync(notAKeyPath, 'hunter2\n');
    expect(cli(['--key-file', notAKeyPath, 'cat', encrypted, '/calls/1.json']).status).toBe(2);

    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const signingPath = join(work, 'encrypted-signing.pem');
    const publicPath = join(work, 'encrypted-public.pem');
    writeFileSync(signingPath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));
    expect(cli(['--key-file', hexKeyPath, 'sign', encrypted, signingPath]).status).toBe(0);
    const anchorPath = join(work, 'encrypted-anchor.json');
    writeFileSync(anchorPath, cli(['--json', '--key-file', hexKeyPath, 'head', encrypted]).stdout);
    // Without the key: every level but the index replay, which the report says was skipped.
    const stored = json(['verify', encrypted, '--public-key', publicPath, '--anchor', anchorPath]);
    expect(stored).toMatchObject({ ok: true, assurance: 'anchored', stateChecked: false });
    // With it: verified in full.
    const full = json([
      '--key-file',
      hexKeyPath,
      'verify',
      encrypted,
      '--public-key',
      publicPath,
      '--anchor',
      anchorPath,
    ]);
    expect(full).toMatchObject({ ok: true, assurance: 'anchored', stateChecked: true });
    expect(cli(['--key-file', hexKeyPath, 'repair', encrypted]).status).toBe(0);
  });

  it('checks the speed of this machine with bench: a table with a verdict, or JSON', () => {
    const report = json(['bench', '--measure-ms', '20', '--dir', work]) as {
      engine: { form: string; codeCache: string };
      machine: Record<string, unknown>;
      figures: { name: string; ratio: number; target: number; met: boolean }[];
      ok: boolean;
      verdict: string;
    };
    // The binary runs its bundle with the code cache the build wrote for this Node.js.
    expect(report.engine).toEqual({ form: 'bundle', codeCache: 'accepted' });
    expect(Object.keys(report.machine)).toEqual([
      'sequentialWriteMiBPerSecond',
      'fdatasyncPerSecond',
      'blake3MiBPerSecond',
      'blake3Implementation',
      'pageCacheReadsPerSecond',
    ]);
    expect(report.figures.map((figure) => figure.name)).toEqual([
      '64 KiB writes',
      'durable 4 KiB commits',
      '4 KiB reads',
    ]);
    for (const figure of report.figures) {
      expect(figure.ratio).toBeGreaterThan(0);
      expect(figure.met).toBe(figure.ratio >= figure.target);
    }
    expect(report.ok).toBe(report.figures.every((figure) => figure.met));
    // It cleans up after itself: nothing of the scratch directory is left.
    expect(readdirSync(work).filter((name) => name.startsWith('cartridge-bench-'))).toEqual([]);
    const table = cli(['bench', '--measure-ms', '20', '--dir', work]);
    expect(table.status).toBe(0);
    expect(table.stdout).toContain('durable 4 KiB commits');
    expect(table.stdout).toMatch(/(runs at the speed expected|Slower than expected)/);
    expect(cli(['bench', '--measure-ms', 'soon']).status).toBe(2);
  });

  it('redacts past versions of a file and shreds a subject', () => {
    const erasing = join(work, 'erasing.cart');
    expect(cli(['init', erasing]).status).toBe(0);
    expect(cli(['put', erasing, '/notes.txt'], 'first secret').status).toBe(0);
    expect(cli(['put', erasing, '/notes.txt'], 'current').status).toBe(0);
    const result = json(['redact', erasing, '/notes.txt']) as { recordsErased: number };
    expect(result.recordsErased).toBe(1);
    expect(readFileSync(erasing).includes('first secret')).toBe(false);
    expect(cli(['cat', erasing, '/notes.txt']).stdout).toBe('current');
    expect(cli(['verify', erasing]).status).toBe(0);
    expect(cli(['redact', erasing, '/notes.txt', '--versions', 'some']).status).toBe(2);
    // A plain cartridge has no subject keys to shred.
    expect(cli(['shred', erasing, '/calls/jane']).status).toBe(2);
  });

  it('compacts a cartridge: the file shrinks, what is kept reads the same', () => {
    const churned = join(work, 'churned.cart');
    expect(cli(['init', churned]).status).toBe(0);
    for (let round = 0; round < 5; round++) {
      // Incompressible, so that each version is dead history worth reclaiming.
      expect(cli(['put', churned, '/log.txt'], randomBytes(8000).toString('hex')).status).toBe(0);
    }
    expect(cli(['snapshot', 'create', churned, 'late']).status).toBe(0);
    expect(cli(['put', churned, '/log.txt'], 'last').status).toBe(0);
    const sizeBefore = statSync(churned).size;
    const kept = json(['compact', churned, '--keep-history-from', 'late']) as {
      bytesBefore: number;
      bytesAfter: number;
      reclaimedBytes: number;
      recordsDropped: number;
    };
    expect(kept.bytesBefore).toBe(sizeBefore);
    expect(kept.bytesAfter).toBe(statSync(churned).size);
    expect(kept.reclaimedBytes).toBeGreaterThan(0);
    expect(cli(['cat', churned, '/log.txt']).stdout).toBe('last');
    expect(cli(['snapshot', 'list', churned]).stdout).toContain('late');
    const human = cli(['compact', churned]);
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^compacted .* bytes \(\d+ reclaimed, \d+ records dropped\)\n$/);
    // No terminal: no progress bar on stderr.
    expect(human.stderr).toBe('');
    expect(cli(['verify', churned]).status).toBe(0);
    expect(cli(['compact', churned, '--keep-history-from', 'no-such-snapshot']).status).toBe(3);
  });

  it('stops quietly when the reader of its output goes away', () => {
    const piped = join(work, 'piped.cart');
    const big = join(work, 'big.bin');
    writeFileSync(big, randomBytes(4 * 1024 * 1024));
    expect(cli(['init', piped]).status).toBe(0);
    expect(cli(['put', piped, '/big.bin', big]).status).toBe(0);
    // `cat … | head -c 1`: the pipe closes after the first byte, long before 4 MiB are written.
    const command = `"${process.execPath}" "${BINARY}" cat "${piped}" /big.bin | head -c 1`;
    const result = spawnSync('sh', ['-c', command], { encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(result.stdout.length).toBe(1);
    expect(result.stderr).toBe('');
  });

  it('documents its exit codes: usage 2, not found 3, damage 4', () => {
    expect(cli(['no-such-command']).status).toBe(2);
    expect(cli(['cat', cart, '/missing']).status).toBe(3);
    const failed = cli(['--json', 'cat', cart, '/missing']);
    expect(JSON.parse(failed.stdout)).toEqual({
      error: { code: 'ENOENT', message: expect.any(String) },
    });
    expect(cli(['--help']).stdout).toContain('snapshot');
    const damaged = join(work, 'damaged.cart');
    writeFileSync(damaged, readFileSync(cart));
    const bytes = readFileSync(damaged);
    // A byte in the middle of the journal, inside a record that open does not read.
    bytes[8192 + 200] = (bytes[8192 + 200] as number) ^ 0xff;
    writeFileSync(damaged, bytes);
    const verify = cli(['--json', 'verify', damaged]);
    expect(verify.status).toBe(4);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: false });
    const repaired = cli(['--json', 'repair', damaged]);
    expect(repaired.status).toBe(4);
    expect(JSON.parse(repaired.stdout)).toMatchObject({ action: 'salvaged' });
    expect(cli(['verify', `${damaged}.repaired.cart`]).status).toBe(0);
  });
});
