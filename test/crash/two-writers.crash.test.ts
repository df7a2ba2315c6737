import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge } from '../../src/index.js';
import { MAPPED_WRITES_AVAILABLE } from '../../src/journal/io/mapped-tail.js';
import { expectCode } from '../support/expect-code.js';
import { childContent, WriterProcess } from '../support/writer-process.js';

/**
 * One writer per file with real processes: two processes racing for one cartridge (exactly one
 * writes), a writer killed with SIGKILL while it holds the lock and while it takes it (the next
 * writer opens at once), and after each, every acknowledged commit is there and verify passes.
 */

let directory: string;
let children: WriterProcess[] = [];

function child(
  path: string,
  mode: 'write' | 'cycle',
  count = -1,
  durability: 'full' | 'normal' | 'off' = 'full',
): WriterProcess {
  const started = new WriterProcess(path, mode, count, durability);
  children.push(started);
  return started;
}

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-writers-'));
  children = [];
});

afterEach(async () => {
  for (const started of children) await started.kill();
  rmSync(directory, { recursive: true, force: true });
});

function freshCartridge(): string {
  const path = join(directory, 'shared.cart');
  Cartridge.create(path, { durability: 'full' }).close();
  return path;
}

/** Opens the cartridge and checks every file each writer acknowledged, then verifies it. */
function expectAcknowledgedPresent(path: string, writers: readonly WriterProcess[]): void {
  const cartridge = Cartridge.open(path);
  try {
    for (const writer of writers) {
      for (const index of writer.acknowledged()) {
        const file = `/p${writer.pid}/${index}`;
        expect(cartridge.readFile(file).toString(), file).toBe(childContent(writer.pid, index));
      }
    }
    expect(cartridge.verify().ok).toBe(true);
  } finally {
    cartridge.close();
  }
}

describe('two writers in two processes', () => {
  it('exactly one of two racing processes gets the file; the other is LOCKED naming it', async () => {
    const path = freshCartridge();
    // Both are told to go at once; each reads it as soon as it is up, so they race.
    const racers = [child(path, 'write'), child(path, 'write')];
    for (const racer of racers) racer.go();
    for (const racer of racers) expect(await racer.waitFor(() => true)).toBe(true);
    const outcomes = racers.map((racer) => racer.lines[0]?.split(' ')[0]);
    expect([...outcomes].sort()).toEqual(['locked', 'opened']);
    const winner = outcomes[0] === 'opened' ? racers[0] : racers[1];
    const loser = winner === racers[0] ? racers[1] : racers[0];
    if (winner === undefined || loser === undefined) throw new Error('two racers');
    expect(loser.lines[0]).toBe(`locked ${winner.pid}`);
    expect(await winner.waitFor((line) => line === 'ack 30')).toBe(true);
    await winner.kill();
    expectAcknowledgedPresent(path, [winner]);
  });

  it('a writer in another process refuses this process, and a reader may look', async () => {
    const path = freshCartridge();
    const writer = child(path, 'write');
    writer.go();
    expect(await writer.waitFor((line) => line === 'ack 5')).toBe(true);
    const error = expectCode(() => Cartridge.open(path), 'LOCKED');
    expect(error.holderPid).toBe(writer.pid);
    expectCode(() => Cartridge.create(path), 'LOCKED');
    const reader = Cartridge.open(path, { readOnly: true });
    expect(reader.exists(`/p${writer.pid}/0`)).toBe(true);
    reader.close();
    await writer.kill();
    expectAcknowledgedPresent(path, [writer]);
  });
});

describe('a writer killed with SIGKILL', () => {
  it('while holding the lock: the next writer opens at once and nothing acknowledged is lost', async () => {
    const path = freshCartridge();
    const writers: WriterProcess[] = [];
    for (let round = 0; round < 3; round++) {
      const writer = child(path, 'write');
      writers.push(writer);
      writer.go();
      expect(await writer.waitFor((line) => line === `ack ${20 + round * 15}`)).toBe(true);
      await writer.kill();
      expect(writer.lines[0]).toBe(`opened ${writer.pid}`);
      // The dead writer's lock is gone with it: this process may write now.
      const next = Cartridge.open(path, { durability: 'full' });
      next.createFile(`/parent-${round}`, 'parent');
      next.close();
    }
    expectAcknowledgedPresent(path, writers);
  });

  it("in durability 'off', past its reserved zeros: nothing acknowledged is lost", async () => {
    // A writer that does not sync still loses nothing to its own death: its commits are in the
    // kernel's page cache, copied there through a mapping of the file on machines that build
    // the addon (src/journal/io/mapped-tail.ts), ahead of which it keeps zeros it never synced.
    const path = freshCartridge();
    const writer = child(path, 'write', -1, 'off');
    writer.go();
    expect(await writer.waitFor((line) => line === 'ack 400')).toBe(true);
    await writer.kill();
    const reader = Cartridge.open(path, { readOnly: true });
    const head = reader.head;
    reader.close();
    if (MAPPED_WRITES_AVAILABLE) expect(statSync(path).size).toBeGreaterThan(head);
    expectAcknowledgedPresent(path, [writer]);
    // The writer's open above cut the zeros: the file ends at its journal again.
    const reopened = Cartridge.open(path, { readOnly: true });
    expect(statSync(path).size).toBe(reopened.head);
    reopened.close();
  });

  it('while taking or releasing the lock: the next writer opens at once', async () => {
    const path = freshCartridge();
    for (let round = 0; round < 4; round++) {
      const cycling = child(path, 'cycle');
      expect(await cycling.waitFor((line) => line === 'cycle')).toBe(true);
      // Let it take and give back the lock for a while, then kill it wherever it is.
      await new Promise((resolve) => setTimeout(resolve, 20 + round * 30));
      await cycling.kill();
      expect(cycling.lines.filter((line) => line !== 'cycle')).toEqual([]);
      const next = Cartridge.open(path, { durability: 'full' });
      next.createFile(`/after-kill-${round}`, String(round));
      next.close();
    }
    const reopened = Cartridge.open(path, { readOnly: true });
    expect(reopened.listDir('/')).toHaveLength(4);
    expect(reopened.verify().ok).toBe(true);
    reopened.close();
  });

  it('a racer that lost while the holder was killed gets the file on its next try', async () => {
    const path = freshCartridge();
    const holder = child(path, 'write');
    holder.go();
    expect(await holder.waitFor((line) => line === 'ack 10')).toBe(true);
    const racer = child(path, 'write', 50);
    racer.go();
    expect(await racer.waitFor((line) => line.startsWith('locked'))).toBe(true);
    await holder.kill();
    const retry = child(path, 'write', 50);
    retry.go();
    await retry.exit();
    expect(retry.lines[0]).toBe(`opened ${retry.pid}`);
    expect(retry.acknowledged()).toHaveLength(50);
    expectAcknowledgedPresent(path, [holder, retry]);
  });
});
