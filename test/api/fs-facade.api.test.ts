import { mkdtempSync, rmSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Cartridge,
  createFs,
  DirectoryEntry,
  FileStats,
  type NodeStyleError,
} from '../../src/index.js';

/**
 * The fs facade through the public entry point: Node's habits (encodings, flags, `Stats` and
 * `Dirent` objects, error fields), descriptors and ranged reads, streams with `start`/`end`,
 * `watch` on the change stream, `promises`, and the operation gate seen through the facade.
 * Results and error codes of the operations themselves are compared with `node:fs` by
 * `test/property/fs-conformance.property.test.ts`.
 */

let directory: string;
let cartridge: Cartridge;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-fs-facade-'));
  cartridge = Cartridge.create(join(directory, 'facade.cart'));
});

afterEach(() => {
  cartridge.close();
  rmSync(directory, { recursive: true, force: true });
});

/** A statement that allows `actor` (and no one else) `action` on `resource`. */
function allowActor(actor: string, action: string | string[], resource: string): unknown {
  return {
    Effect: 'Allow',
    Action: action,
    Resource: resource,
    Condition: { StringEquals: { 'cartridge:actor': actor } },
  };
}

function thrown(action: () => unknown): NodeStyleError {
  try {
    action();
  } catch (error) {
    return error as NodeStyleError;
  }
  throw new Error('expected the call to throw');
}

describe('Node habits', () => {
  it('returns strings for an encoding and creates missing files on write', () => {
    const fs = cartridge.fs;
    fs.writeFileSync('/notes.txt', 'héllo');
    expect(fs.readFileSync('/notes.txt', 'utf8')).toBe('héllo');
    expect(fs.readFileSync('/notes.txt', { encoding: 'base64' })).toBe(
      Buffer.from('héllo').toString('base64'),
    );
    expect(Buffer.isBuffer(fs.readFileSync('/notes.txt'))).toBe(true);
    fs.writeFileSync('/hex.bin', 'cafe', 'hex');
    expect([...(fs.readFileSync('/hex.bin') as Buffer)]).toEqual([0xca, 0xfe]);
    fs.appendFileSync('/log.txt', 'one\n');
    fs.appendFileSync('/log.txt', Buffer.from('two\n'));
    expect(fs.readFileSync('log.txt', 'utf8')).toBe('one\ntwo\n');
    fs.writeFileSync('/log.txt', 'three\n', { flag: 'a' });
    expect(fs.readFileSync('/log.txt', 'utf8')).toBe('one\ntwo\nthree\n');
    expect(fs).toBe(cartridge.fs);
  });

  it('throws errors with code, errno, syscall and path as Node does', () => {
    const fs = cartridge.fs;
    const missing = thrown(() => fs.readFileSync('/nope.txt'));
    expect(missing).toBeInstanceOf(Error);
    expect(missing.code).toBe('ENOENT');
    expect(missing.errno).toBe(-osConstants.errno.ENOENT);
    expect(missing.syscall).toBe('open');
    expect(missing.path).toBe('/nope.txt');
    fs.mkdirSync('/dir');
    const notEmpty = thrown(() => {
      fs.writeFileSync('/dir/file', 'x');
      fs.rmdirSync('/dir');
    });
    expect([notEmpty.code, notEmpty.errno, notEmpty.syscall]).toEqual([
      'ENOTEMPTY',
      -osConstants.errno.ENOTEMPTY,
      'rmdir',
    ]);
    const renamed = thrown(() => fs.renameSync('/missing', '/other'));
    expect([renamed.code, renamed.path, renamed.dest]).toEqual(['ENOENT', '/missing', '/other']);
  });

  it('gives Stats and Dirent objects', () => {
    const fs = cartridge.fs;
    fs.mkdirSync('/a/b', { recursive: true });
    fs.writeFileSync('/a/file.txt', 'x'.repeat(5000));
    const stats = fs.statSync('/a/file.txt') as FileStats;
    expect(stats).toBeInstanceOf(FileStats);
    expect([stats.isFile(), stats.isDirectory(), stats.size]).toEqual([true, false, 5000]);
    expect(stats.mode & 0o170000).toBe(0o100000);
    expect(stats.mtime).toBeInstanceOf(Date);
    expect(stats.birthtime.getTime()).toBeLessThanOrEqual(stats.mtime.getTime());
    expect(stats.blocks).toBe(16);
    const directoryStats = fs.lstatSync('/a') as FileStats;
    expect([directoryStats.isDirectory(), directoryStats.mode & 0o170000]).toEqual([
      true,
      0o040000,
    ]);
    expect(fs.statSync('/none', { throwIfNoEntry: false })).toBeUndefined();
    const entries = fs.readdirSync('/a', { withFileTypes: true }) as DirectoryEntry[];
    expect(entries.map((entry) => [entry.name, entry.isDirectory(), entry.parentPath])).toEqual([
      ['b', true, '/a'],
      ['file.txt', false, '/a'],
    ]);
    expect(entries[0]).toBeInstanceOf(DirectoryEntry);
    expect(fs.readdirSync('/', { recursive: true })).toEqual(['a', 'a/b', 'a/file.txt']);
  });

  it('renames a directory with its subtree atomically', () => {
    const fs = cartridge.fs;
    fs.mkdirSync('/project/src', { recursive: true });
    fs.writeFileSync('/project/src/main.ts', 'main');
    fs.writeFileSync('/project/README', 'read me');
    const head = cartridge.head;
    fs.renameSync('/project', '/archive');
    expect(fs.existsSync('/project')).toBe(false);
    expect(fs.readFileSync('/archive/src/main.ts', 'utf8')).toBe('main');
    expect(fs.readFileSync('/archive/README', 'utf8')).toBe('read me');
    const view = cartridge.checkout(head);
    expect(view.exists('/project/src/main.ts')).toBe(true);
  });
});

describe('descriptors and ranged reads', () => {
  it('reads into a buffer at a position, and ranges through the engine', () => {
    const fs = cartridge.fs;
    fs.writeFileSync('/data.bin', Buffer.from('0123456789'));
    const descriptor = fs.openSync('/data.bin', 'r');
    const buffer = Buffer.alloc(6, 0x2e);
    expect(fs.readSync(descriptor, buffer, 1, 4, 3)).toBe(4);
    expect(buffer.toString()).toBe('.3456.');
    expect(fs.readSync(descriptor, buffer, { offset: 0, length: 3 })).toBe(3);
    expect(fs.readSync(descriptor, buffer, { offset: 0, length: 3 })).toBe(3);
    expect(buffer.subarray(0, 3).toString()).toBe('345');
    expect(fs.fstatSync(descriptor).size).toBe(10);
    fs.closeSync(descriptor);
    expect(thrown(() => fs.closeSync(descriptor)).code).toBe('EBADF');
    expect(cartridge.readFile('/data.bin', { start: 2, end: 5 }).toString()).toBe('234');
    expect(cartridge.readFile('/data.bin', { start: 8 }).toString()).toBe('89');
    expect(cartridge.readFile('/data.bin', { start: 20 }).length).toBe(0);
  });

  it('writes at the end and inside a file through a descriptor', () => {
    const fs = cartridge.fs;
    const descriptor = fs.openSync('/out.txt', 'w');
    fs.writeSync(descriptor, 'hello world');
    fs.writeSync(descriptor, 'W', 6);
    fs.closeSync(descriptor);
    expect(fs.readFileSync('/out.txt', 'utf8')).toBe('hello World');
    expect(thrown(() => fs.openSync('/out.txt', 'wx')).code).toBe('EEXIST');
  });

  it('reads ranges of a file built from many appends', () => {
    const log = Array.from({ length: 3000 }, (_, index) => `line ${index}\n`);
    cartridge.createFile('/log.txt', '');
    for (const line of log) cartridge.appendFile('/log.txt', line);
    const text = log.join('');
    for (const [start, end] of [
      [0, 10],
      [5, 6000],
      [12_345, 12_345],
      [text.length - 7, text.length + 100],
    ] as const) {
      expect(cartridge.readFile('/log.txt', { start, end }).toString()).toBe(
        text.slice(start, end),
      );
    }
  });
});

describe('streams, watch and promises', () => {
  it('streams a range of a file and writes through a stream', async () => {
    const fs = cartridge.fs;
    fs.writeFileSync('/big.bin', Buffer.alloc(300_000, 7));
    const chunks: Buffer[] = [];
    const reader = fs.createReadStream('/big.bin', {
      start: 10,
      end: 200_009,
      highWaterMark: 65_536,
    });
    for await (const chunk of reader) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).length).toBe(200_000);
    const writer = fs.createWriteStream('/written.txt');
    writer.write('first ');
    writer.end('second');
    await finished(writer);
    expect(fs.readFileSync('/written.txt', 'utf8')).toBe('first second');
    const failing = fs.createReadStream('/missing');
    const error = await new Promise<NodeStyleError>((resolve) => failing.on('error', resolve));
    expect(error.code).toBe('ENOENT');
  });

  it('watches a directory on the change stream', async () => {
    const fs = cartridge.fs;
    fs.mkdirSync('/inbox');
    const seen: string[] = [];
    const watcher = fs.watch('/inbox', (eventType, filename) =>
      seen.push(`${eventType} ${filename}`),
    );
    fs.writeFileSync('/inbox/a.txt', 'a');
    fs.appendFileSync('/inbox/a.txt', 'b');
    fs.writeFileSync('/elsewhere.txt', 'x');
    fs.unlinkSync('/inbox/a.txt');
    await new Promise((resolve) => setTimeout(resolve, 50));
    watcher.close();
    expect(seen).toEqual(['rename a.txt', 'change a.txt', 'rename a.txt']);
  });

  it('offers the operations as promises that reject with Node-style errors', async () => {
    const fs = createFs(cartridge);
    await fs.promises.mkdir('/p/q', { recursive: true });
    await fs.promises.writeFile('/p/q/file', 'content');
    expect(await fs.promises.readFile('/p/q/file', 'utf8')).toBe('content');
    expect(await fs.promises.readdir('/p')).toEqual(['q']);
    await expect(fs.promises.unlink('/p/q')).rejects.toMatchObject({ code: 'EISDIR' });
    await fs.promises.rm('/p', { recursive: true });
    expect(fs.existsSync('/p')).toBe(false);
  });
});

describe('the operation gate through the facade', () => {
  it('refuses what the policy denies with EACCES, as the actor of the handle', () => {
    cartridge.fs.mkdirSync('/calls');
    cartridge.fs.writeFileSync('/calls/1.txt', 'call');
    cartridge.setPolicy({
      Statement: [
        allowActor('local', 'All', '/**'),
        { Effect: 'Allow', Action: ['Read', 'List'], Resource: '/calls/**' },
      ],
    });
    const agent = cartridge.as('agent-7').fs;
    expect(agent.readFileSync('/calls/1.txt', 'utf8')).toBe('call');
    const denied = thrown(() => agent.writeFileSync('/calls/1.txt', 'changed'));
    expect([denied.code, denied.errno]).toEqual(['EACCES', -osConstants.errno.EACCES]);
    expect(cartridge.fs.readFileSync('/calls/1.txt', 'utf8')).toBe('call');
  });

  it('lets a write-only actor write as the engine lets it, and tells others nothing', () => {
    cartridge.fs.mkdirSync('/recordings');
    cartridge.fs.writeFileSync('/recordings/1.wav', 'first');
    cartridge.fs.mkdirSync('/secret');
    cartridge.setPolicy({
      Statement: [
        allowActor('local', 'All', '/**'),
        { Effect: 'Allow', Action: ['Write', 'Create'], Resource: '/recordings/**' },
        { Effect: 'Allow', Action: 'Delete', Resource: '/recordings/old-*' },
      ],
    });
    const agent = cartridge.as('recorder').fs;
    // The looks before a change are part of the change: no `Read` is asked of the agent.
    agent.writeFileSync('/recordings/1.wav', 'replaced');
    agent.writeFileSync('/recordings/2.wav', 'created');
    agent.appendFileSync('/recordings/2.wav', '+appended');
    agent.mkdirSync('/recordings/day-2');
    agent.writeFileSync('/recordings/old-1.wav', 'stale');
    const descriptor = agent.openSync('/recordings/3.wav', 'a');
    agent.writeSync(descriptor, 'streamed');
    agent.writeSync(descriptor, '+more');
    agent.closeSync(descriptor);
    agent.unlinkSync('/recordings/old-1.wav');
    const read = (path: string) => cartridge.fs.readFileSync(path, 'utf8');
    expect(read('/recordings/1.wav')).toBe('replaced');
    expect(read('/recordings/2.wav')).toBe('created+appended');
    expect(read('/recordings/3.wav')).toBe('streamed+more');
    expect(cartridge.fs.statSync('/recordings/day-2')?.isDirectory()).toBe(true);
    expect(cartridge.fs.existsSync('/recordings/old-1.wav')).toBe(false);
    // What the facade checks still holds for it: the parent, the directory, O_EXCL.
    expect(thrown(() => agent.writeFileSync('/recordings/none/1.wav', 'x')).code).toBe('ENOENT');
    expect(thrown(() => agent.writeFileSync('/recordings/day-2', 'x')).code).toBe('EISDIR');
    expect(thrown(() => agent.writeFileSync('/recordings/1.wav', 'x', { flag: 'wx' })).code).toBe(
      'EEXIST',
    );
    // Reading stays refused, and so does what the policy does not allow.
    expect(thrown(() => agent.readFileSync('/recordings/1.wav')).code).toBe('EACCES');
    expect(thrown(() => agent.unlinkSync('/recordings/1.wav')).code).toBe('EACCES');
    // Outside what it may change, the agent learns nothing of what is there or missing.
    expect(thrown(() => agent.writeFileSync('/secret/none/1.txt', 'x')).code).toBe('EACCES');
    expect(thrown(() => agent.writeFileSync('/secret', 'x')).code).toBe('EACCES');
    expect(thrown(() => agent.mkdirSync('/secret')).code).toBe('EACCES');
    expect(thrown(() => agent.unlinkSync('/secret/none')).code).toBe('EACCES');
    expect(cartridge.fs.readdirSync('/secret')).toEqual([]);
  });

  it('moves, removes and copies for actors allowed just those changes', () => {
    cartridge.fs.mkdirSync('/inbox');
    cartridge.fs.mkdirSync('/done');
    cartridge.fs.mkdirSync('/templates');
    cartridge.fs.mkdirSync('/out');
    cartridge.fs.writeFileSync('/inbox/1.json', 'one');
    cartridge.fs.writeFileSync('/inbox/2.json', 'two');
    cartridge.fs.writeFileSync('/templates/letter.txt', 'Dear');
    cartridge.setPolicy({
      Statement: [
        allowActor('local', 'All', '/**'),
        // A mover takes work from the inbox to done (rename: Delete there, Write here).
        allowActor('mover', 'Delete', '/inbox/**'),
        allowActor('mover', 'Write', '/done/**'),
        // A copier reads templates and fills the out tray.
        allowActor('copier', 'Read', '/templates/**'),
        allowActor('copier', ['Create', 'Write'], '/out/**'),
      ],
    });
    const mover = cartridge.as('mover').fs;
    mover.renameSync('/inbox/1.json', '/done/1.json');
    mover.rmSync('/inbox/2.json');
    mover.rmSync('/inbox/none.json', { force: true });
    expect(thrown(() => mover.renameSync('/inbox/none.json', '/done/x')).code).toBe('ENOENT');
    expect(thrown(() => mover.renameSync('/done/1.json', '/inbox/1.json')).code).toBe('EACCES');
    expect(thrown(() => mover.rmSync('/templates/letter.txt')).code).toBe('EACCES');
    const copier = cartridge.as('copier').fs;
    copier.copyFileSync('/templates/letter.txt', '/out/letter-1.txt');
    expect(
      thrown(() =>
        copier.copyFileSync(
          '/templates/letter.txt',
          '/out/letter-1.txt',
          cartridge.fs.constants.COPYFILE_EXCL,
        ),
      ).code,
    ).toBe('EEXIST');
    expect(thrown(() => copier.copyFileSync('/done/1.json', '/out/1.json')).code).toBe('EACCES');
    expect(cartridge.fs.readdirSync('/inbox')).toEqual([]);
    expect(cartridge.fs.readFileSync('/done/1.json', 'utf8')).toBe('one');
    expect(cartridge.fs.readFileSync('/out/letter-1.txt', 'utf8')).toBe('Dear');
  });
});
