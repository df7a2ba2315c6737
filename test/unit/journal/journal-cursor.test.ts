import { describe, expect, it } from 'vitest';
import { Cartridge } from '../../../src/index.js';
import { JOURNAL_START_OFFSET } from '../../../src/journal/file-header.js';
import { chainRootOf } from '../../../src/journal/hashing.js';
import { MemoryStorage } from '../../../src/journal/io/memory-storage.js';
import { JournalCursor } from '../../../src/journal/journal-cursor.js';
import type { JournalTail } from '../../../src/journal/journal-writer.js';

const PATH = '/virtual/cursor.cart';

function genesisTail(cart: Cartridge): JournalTail {
  return {
    endOffset: JOURNAL_START_OFFSET,
    nextSequence: 0,
    lastHash: chainRootOf(Buffer.from(cart.cartridgeId, 'hex')),
  };
}

describe('JournalCursor', () => {
  it('reads every commit in order with the chain, and follows the journal as it grows', () => {
    const storage = new MemoryStorage();
    const cart = Cartridge.create(PATH, { storage });
    cart.createFile('/a', 'one');
    cart.transaction(() => {
      cart.createFile('/b', 'two');
      cart.appendFile('/a', ' more');
    });
    const file = storage.open(PATH, { create: false, truncate: false, readOnly: true });
    const cursor = new JournalCursor(file, genesisTail(cart), { sealing: undefined });
    const first = [...cursor.commits(cart.head)];
    // The genesis, the create, then the transaction (its two appends are one record).
    expect(first.map((commit) => commit.records.map((record) => record.event.type))).toEqual([
      ['genesis'],
      ['file.created'],
      ['file.created', 'file.appended'],
    ]);
    expect(cursor.stop).toEqual({ offset: cart.head, reason: null, pendingRecords: 0 });
    expect(cursor.position.endOffset).toBe(cart.head);
    expect(cursor.position.lastHash.toString('hex')).toBe(cart.verify().headHash);

    cart.deleteFile('/b');
    cart.createDir('/d');
    const followed = [...cursor.follow(cart.head)];
    expect(followed.map((commit) => commit.records[0]?.event.type)).toEqual([
      'entry.deleted',
      'directory.created',
    ]);
    expect([...cursor.follow(cart.head)]).toEqual([]);
    expect(cursor.position.lastHash.toString('hex')).toBe(cart.verify().headHash);
    file.close();
    cart.close();
  });

  it('stops where the bytes stop being a chained record, and says why', () => {
    const storage = new MemoryStorage();
    const cart = Cartridge.create(PATH, { storage });
    cart.createFile('/a', 'one');
    const damageAt = cart.head;
    cart.createFile('/b', 'two');
    cart.createFile('/c', 'three');
    const head = cart.head;
    cart.close();
    const file = storage.open(PATH, { create: false, truncate: false, readOnly: false });
    const byte = Buffer.alloc(1);
    file.read(byte, 0, 1, damageAt + 50);
    byte[0] = (byte[0] as number) ^ 0xff;
    file.write([byte], damageAt + 50);
    const reopened = Cartridge.open(PATH, { storage, readOnly: true, recovery: 'read-only-prefix' });
    const cursor = new JournalCursor(file, genesisTail(reopened), { sealing: undefined });
    const commits = [...cursor.commits(head)];
    expect(commits).toHaveLength(2);
    expect(cursor.position.endOffset).toBe(damageAt);
    expect(cursor.stop?.offset).toBe(damageAt);
    expect(cursor.stop?.reason).not.toBeNull();
    reopened.close();
    file.close();
  });
});
