import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cartridge, type ChangeEvent } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * `cart.rename`: a file, or a directory with its subtree, moved in one commit of `path.moved`
 * records that carry paths and no content. Checked through the public API: the bytes written
 * by a move, a subtree larger than one record holds, history on both sides, checkout, restore,
 * the change stream and `watch`, the policy on every moved entry, the audit trail, reopen and
 * `verify()`.
 */

let directory: string;
beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-rename-'));
});
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** The events a stream delivers from `from` until it has caught up. */
function eventsFrom(cart: Cartridge, from: number, filter?: string): Promise<ChangeEvent[]> {
  return new Promise((resolve, reject) => {
    const events: ChangeEvent[] = [];
    const subscription = cart
      .changes({ from, ...(filter === undefined ? {} : { filter }) })
      .subscribe({
        next: (event) => {
          if (event.type !== 'caught-up') {
            events.push(event);
            return;
          }
          subscription.unsubscribe();
          resolve(events);
        },
        error: reject,
      });
  });
}

/** Denies that leave the administrator's `All` on `/` alone (see ARCHITECTURE.md §33). */
const notAdmin = { StringNotEquals: { 'cartridge:actor': 'admin' } };

describe('cart.rename', () => {
  it('moves a large file by writing a few hundred bytes, whatever its size', () => {
    const cart = Cartridge.memory();
    const content = Buffer.alloc(3 * 1024 * 1024, 7);
    cart.createFile('/in/big.bin', content);
    const before = cart.head;
    cart.rename('/in/big.bin', '/out.bin');
    expect(cart.head - before).toBeLessThan(512);
    expect(cart.readFile('/out.bin').equals(content)).toBe(true);
    expect(cart.exists('/in/big.bin')).toBe(false);
    expect(cart.listDir('/in')).toEqual([]);
    cart.close();
  });

  it('moves a subtree larger than one record holds in one commit, and it reopens and verifies', async () => {
    const path = join(directory, 'subtree.cart');
    const cart = Cartridge.create(path, { durability: 'off' });
    const count = 4200;
    cart.transaction(() => {
      for (let index = 0; index < count; index++) {
        cart.createFile(`/src/d${index % 10}/f${index}`, `file ${index}`);
      }
    });
    cart.createDir('/dst');
    const before = cart.head;
    const stats = cart.stats();
    cart.rename('/src', '/dst/moved');
    expect(() => cart.rename('/src', '/x')).toThrow();
    // One commit: a stream from before the move sees one event for the whole subtree.
    const events = await eventsFrom(cart, before);
    expect(events.map((event) => [event.type, event.path, event.from])).toEqual([
      ['path.moved', '/dst/moved', '/src'],
    ]);
    // More records than one: 4211 entries walked as 4222 steps, at most 4096 a record.
    expect(cart.stats().recordCount - stats.recordCount).toBeGreaterThanOrEqual(2);
    expect(cart.listDir('/dst/moved')).toHaveLength(10);
    expect(cart.readFile('/dst/moved/d7/f4167').toString()).toBe('file 4167');
    expect(cart.stats().fileCount).toBe(count);
    cart.close();
    const reopened = Cartridge.open(path);
    expect(reopened.readFile('/dst/moved/d3/f4193').toString()).toBe('file 4193');
    expect(reopened.exists('/src')).toBe(false);
    expect(reopened.verify().ok).toBe(true);
    const past = reopened.checkout(before);
    expect(past.readFile('/src/d3/f4193').toString()).toBe('file 4193');
    expect(past.exists('/dst/moved')).toBe(false);
    reopened.close();
  });

  it('keeps each path’s history: moved-out at the source, moved-in at the target', () => {
    const cart = Cartridge.memory();
    cart.createFile('/a/x', 'one');
    cart.writeFile('/a/x', 'two!');
    cart.rename('/a', '/b');
    cart.rename('/b/x', '/a2');
    expect(cart.history('/a2').map((version) => [version.change, version.movedFrom])).toEqual([
      ['moved-in', '/b/x'],
    ]);
    expect(cart.history('/b/x').map((version) => version.change)).toEqual([
      'moved-out',
      'moved-in',
    ]);
    const source = cart.history('/a/x');
    expect(source.map((version) => [version.change, version.movedTo ?? null])).toEqual([
      ['moved-out', '/b/x'],
      ['written', null],
      ['created', null],
    ]);
    expect(source[0]?.kind).toBe('file');
    expect(cart.history('/b')[0]).toMatchObject({ change: 'moved-in', kind: 'directory' });
    // A path used again continues its chain through the move.
    cart.createFile('/a/x', 'three');
    expect(cart.history('/a/x').map((version) => version.change)).toEqual([
      'created',
      'moved-out',
      'written',
      'created',
    ]);
    cart.close();
  });

  it('is undone by a restore, and a diff shows the paths that left and came', () => {
    const cart = Cartridge.memory();
    cart.createFile('/a/x', 'x');
    cart.createFile('/a/y/z', 'z');
    const before = cart.head;
    cart.rename('/a', '/b');
    expect(cart.diff(before).map((entry) => `${entry.change} ${entry.path}`)).toEqual([
      'removed /a',
      'removed /a/x',
      'removed /a/y',
      'removed /a/y/z',
      'added /b',
      'added /b/x',
      'added /b/y',
      'added /b/y/z',
    ]);
    cart.restoreSnapshot(before);
    expect(cart.diff(before)).toEqual([]);
    expect(cart.readFile('/a/y/z').toString()).toBe('z');
    expect(cart.verify().ok).toBe(true);
    cart.close();
  });

  it('refuses what rename(2) refuses, with the engine’s codes, and changes nothing', () => {
    const cart = Cartridge.memory();
    cart.createFile('/a/x', 'x');
    cart.createFile('/f', 'f');
    const head = cart.head;
    expectCode(() => cart.rename('/missing', '/b'), 'ENOENT');
    expectCode(() => cart.rename('/a', '/f'), 'EEXIST');
    expectCode(() => cart.rename('/a', '/a/x/inside'), 'EINVAL');
    expectCode(() => cart.rename('/', '/root'), 'EINVAL');
    expectCode(() => cart.rename('/a', '/'), 'EEXIST');
    expectCode(() => cart.rename('/a', '/nowhere/b'), 'ENOENT');
    expectCode(() => cart.rename('/a', '/f/b'), 'ENOTDIR');
    cart.rename('/a', '/a');
    expect(cart.head).toBe(head);
    cart.close();
  });

  it('needs Delete on every source path and Write on every target path', () => {
    const cart = Cartridge.memory({ actor: 'admin', audit: true });
    cart.createFile('/team/notes', 'n');
    cart.createFile('/team/locked/keep', 'k');
    cart.setPolicy({
      Statement: [
        { Sid: 'Admin', Effect: 'Allow', Action: '*', Resource: '/**' },
        { Sid: 'AdminRoot', Effect: 'Allow', Action: '*', Resource: '/' },
        {
          Sid: 'Users',
          Effect: 'Allow',
          Action: ['Read', 'List', 'Write', 'Delete', 'Create'],
          Resource: ['/team/**', '/archive/**', '/team', '/archive'],
        },
        {
          Sid: 'KeepLocked',
          Effect: 'Deny',
          Action: 'Delete',
          Resource: '/team/locked/**',
          Condition: notAdmin,
        },
        {
          Sid: 'NoInbox',
          Effect: 'Deny',
          Action: 'Write',
          Resource: '/inbox/**',
          Condition: notAdmin,
        },
      ],
    });
    const user = cart.as('user');
    user.createDir('/archive');
    const head = cart.head;
    // A file inside may not leave its path, so the directory above it may not move.
    expectCode(() => user.rename('/team', '/archive/team'), 'EACCES');
    expectCode(() => user.rename('/team/notes', '/inbox/notes'), 'EACCES');
    expect(cart.head).toBeGreaterThanOrEqual(head);
    expect(cart.exists('/team/locked/keep')).toBe(true);
    user.rename('/team/notes', '/archive/notes');
    expect(user.readFile('/archive/notes').toString()).toBe('n');
    const entries = cart
      .audit({ actor: 'user' })
      .map((entry) => `${entry.action} ${entry.path} ${entry.allowed ? 'allowed' : 'denied'}`);
    // The walk stops at the first entry refused: the locked directory itself.
    expect(entries).toContain('Delete /team/locked denied');
    expect(entries).toContain('Write /inbox/notes denied');
    expect(entries).toContain('Delete /team/notes allowed');
    expect(entries).toContain('Write /archive/notes allowed');
    cart.close();
  });

  it('reaches a stream filtered on either side, and only an actor who may read both', async () => {
    const cart = Cartridge.memory({ actor: 'admin' });
    cart.createFile('/a/x', 'x');
    const before = cart.head;
    cart.rename('/a', '/b');
    expect((await eventsFrom(cart, before, '/a/**')).map((event) => event.type)).toEqual([
      'path.moved',
    ]);
    expect((await eventsFrom(cart, before, '/b')).map((event) => event.from)).toEqual(['/a']);
    cart.setPolicy({
      Statement: [
        {
          Effect: 'Allow',
          Action: '*',
          Resource: ['/', '/**'],
          Condition: { StringEquals: { 'cartridge:actor': 'admin' } },
        },
        { Effect: 'Allow', Action: ['Read', 'List'], Resource: ['/', '/b', '/b/**'] },
      ],
    });
    const reader = cart.as('reader');
    expect(await eventsFrom(reader, before)).toEqual([]);
    cart.close();
  });

  it('is two renames to fs.watch, and fs.renameSync replaces a file as rename(2) does', async () => {
    const cart = Cartridge.memory();
    cart.createFile('/d/old', 'o');
    cart.createFile('/d/target', 't');
    const seen: string[] = [];
    const watcher = cart.fs.watch('/d', (eventType, name) => seen.push(`${eventType} ${name}`));
    cart.fs.renameSync('/d/old', '/d/target');
    await new Promise((resolve) => setTimeout(resolve, 20));
    watcher.close();
    expect(seen).toEqual(['rename target', 'rename old', 'rename target']);
    expect(cart.fs.readFileSync('/d/target', 'utf8')).toBe('o');
    expect(cart.history('/d/target').map((version) => version.change)).toEqual([
      'moved-in',
      'deleted',
      'created',
    ]);
    cart.close();
  });
});
