import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';

/**
 * A writer and a reader in two processes: the reader tails the cartridge with a change stream
 * on a read-only handle, receives every event exactly once and in order, and after it is
 * killed and restarted with the last token it received, receives exactly the events after it.
 */

const CHILD_PATH = fileURLToPath(new URL('../support/stream-child.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

class StreamReader {
  readonly lines: string[] = [];
  private partial = '';
  private readonly child: ChildProcessWithoutNullStreams;
  stderr = '';

  constructor(path: string, from: string) {
    this.child = spawn(process.execPath, ['--import', 'tsx', CHILD_PATH, path, from], {
      cwd: PROJECT_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      const complete = (this.partial + chunk).split('\n');
      this.partial = complete.pop() ?? '';
      this.lines.push(...complete);
    });
    this.child.stderr.on('data', (chunk: string) => {
      if (this.stderr.length < 4000) this.stderr += chunk;
    });
  }

  /** The created paths received, in order. */
  get createdPaths(): string[] {
    return this.events
      .filter(([type]) => type === 'file.created')
      .map(([, path]) => path as string);
  }

  get events(): string[][] {
    return this.lines
      .filter((line) => line.startsWith('event '))
      .map((line) => line.split(' ').slice(1));
  }

  async waitFor(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; lines: ${this.lines.slice(-5).join(' | ')}; stderr: ${this.stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  kill(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        resolve();
        return;
      }
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
  }
}

let directory: string;
let readers: StreamReader[] = [];

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-stream-'));
  readers = [];
});

afterEach(async () => {
  await Promise.all(readers.map((reader) => reader.kill()));
  rmSync(directory, { recursive: true, force: true });
});

function startReader(path: string, from: string): StreamReader {
  const reader = new StreamReader(path, from);
  readers.push(reader);
  return reader;
}

async function writeFiles(cartridge: Cartridge, from: number, count: number): Promise<void> {
  for (let index = from; index < from + count; index++) {
    cartridge.createFile(`/calls/${index}.txt`, `call ${index}`);
    // Let the writer run for a while, in bursts, as a live process would.
    if (index % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('change streams across processes', () => {
  it('delivers every commit of another process exactly once, in order, and resumes from a token', async () => {
    const path = join(directory, 'trail.cart');
    // Small checkpoints: the reader crosses roots (and drops its overlay) while it follows.
    const writer = Cartridge.create(path, { checkpointIntervalBytes: 8 * 1024 });
    writer.createDir('/calls');
    const first = startReader(path, 'start');
    await first.waitFor(() => first.lines.includes('subscribed'), 'the first reader');
    await writeFiles(writer, 0, 150);
    const expectedFirst = Array.from({ length: 150 }, (_, index) => `/calls/${index}.txt`);
    await first.waitFor(() => first.createdPaths.length >= 150, '150 events');
    expect(first.createdPaths).toEqual(expectedFirst);
    expect(first.lines.some((line) => line.startsWith('error'))).toBe(false);
    // The last token received: the reader is killed without warning, and restarts from it.
    const lastToken = first.events.at(-1)?.[2] as string;
    await first.kill();
    await writeFiles(writer, 150, 60);
    const second = startReader(path, lastToken);
    await second.waitFor(() => second.createdPaths.length >= 60, 'the 60 events after the token');
    await writeFiles(writer, 210, 20);
    await second.waitFor(() => second.createdPaths.length >= 80, '20 live events');
    const expectedSecond = Array.from({ length: 80 }, (_, index) => `/calls/${150 + index}.txt`);
    expect(second.createdPaths).toEqual(expectedSecond);
    expect(second.events.filter(([type]) => type === 'caught-up')).toHaveLength(1);
    writer.close();
  }, 120_000);

  it('a follower in another process is told when the writer compacts, instead of going stale', async () => {
    const path = join(directory, 'compacted.cart');
    const writer = Cartridge.create(path);
    writer.createDir('/calls');
    const follower = startReader(path, 'start');
    await follower.waitFor(() => follower.lines.includes('subscribed'), 'the follower');
    await writeFiles(writer, 0, 20);
    await follower.waitFor(() => follower.createdPaths.length >= 20, '20 events');
    const lastToken = follower.events.at(-1)?.[2] as string;
    // The writer renames a rewritten file over the path: the follower's descriptor now reads
    // a file nobody writes. Its stream must end with FILE_CHANGED, not wait forever.
    writer.compact();
    await writeFiles(writer, 20, 5);
    await follower.waitFor(
      () => follower.lines.some((line) => line.startsWith('error ')),
      'the follower stream to fail',
    );
    expect(follower.lines.find((line) => line.startsWith('error '))?.split(' ')[1]).toBe('FILE_CHANGED');
    expect(follower.createdPaths).toHaveLength(20);
    // The old file's token names offsets the new file does not have: refused, never misread.
    const resumed = startReader(path, lastToken);
    await resumed.waitFor(() => resumed.lines.some((line) => line.startsWith('error ')), 'a refusal');
    expect(resumed.lines.find((line) => line.startsWith('error '))?.split(' ')[1]).toBe(
      'HISTORY_UNAVAILABLE',
    );
    // A follower opened again follows the new file.
    const reopened = startReader(path, 'now');
    await reopened.waitFor(() => reopened.lines.includes('subscribed'), 'the reopened follower');
    await writeFiles(writer, 25, 3);
    await reopened.waitFor(() => reopened.createdPaths.length >= 3, '3 live events');
    expect(reopened.createdPaths).toEqual(['/calls/25.txt', '/calls/26.txt', '/calls/27.txt']);
    writer.close();
  }, 120_000);
});
