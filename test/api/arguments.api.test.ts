import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cartridge, type CartridgeOptions } from '../../src/index.js';
import { expectCode } from '../support/expect-code.js';

/**
 * Wrong-type and out-of-range arguments from untyped callers: every public entry point answers
 * with a typed error (INVALID_ARGUMENT for options and arguments, EINVAL for paths and content
 * inside the cartridge), never a TypeError or an IO_ERROR. The casts stand for JavaScript
 * callers, which no type checker protects.
 */

let directory: string;

beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'cartridge-arguments-'));
});

afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

const BAD_HOST_PATHS: readonly unknown[] = [123, null, undefined, '', 'a\0b', {}, ['x'], Symbol('p')];

describe('the cartridge path', () => {
  it.each(BAD_HOST_PATHS.map((value) => [String(value), value]))(
    'create(%s) and open(%s) give INVALID_ARGUMENT',
    (_label, value) => {
      expectCode(() => Cartridge.create(value as string), 'INVALID_ARGUMENT');
      expectCode(() => Cartridge.open(value as string), 'INVALID_ARGUMENT');
      expectCode(() => Cartridge.open(value as string, { readOnly: true }), 'INVALID_ARGUMENT');
    },
  );
});

describe('options', () => {
  const path = (): string => join(directory, 'o.cart');
  const BAD_OPTIONS: readonly [string, unknown][] = [
    ['null', null],
    ['an array', []],
    ['a number', 5],
    ['a string', 'full'],
    ['syncIntervalMs 2^40', { syncIntervalMs: 2 ** 40 }],
    ['syncIntervalMs over an hour', { syncIntervalMs: 3_600_001 }],
    ['syncIntervalMs 0', { syncIntervalMs: 0 }],
    ['syncIntervalMs 1.5', { syncIntervalMs: 1.5 }],
    ['syncIntervalMs as text', { syncIntervalMs: '1000' }],
    ['checkpointIntervalBytes 2^41', { checkpointIntervalBytes: 2 ** 41 }],
    ['checkpointIntervalBytes below a page', { checkpointIntervalBytes: 100 }],
    ['checkpointIntervalRecords 0', { checkpointIntervalRecords: 0 }],
    ['checkpointIntervalRecords 2^41', { checkpointIntervalRecords: 2 ** 41 }],
    ['checkpointIntervalRecords 1.5', { checkpointIntervalRecords: 1.5 }],
    ['bufferPoolBytes 2^41', { bufferPoolBytes: 2 ** 41 }],
    ['bufferPoolBytes negative', { bufferPoolBytes: -1 }],
    ['capacityBlocks 2^41', { capacityBlocks: 2 ** 41 }],
    ['capacityBlocks 0', { capacityBlocks: 0 }],
    ['capacityBlocks NaN', { capacityBlocks: Number.NaN }],
    ['readOnly as text', { readOnly: 'yes' }],
    ['durability unknown', { durability: 'sometimes' }],
    ['storage an empty object', { storage: {} }],
    ['storage null', { storage: null }],
  ];

  it.each(BAD_OPTIONS)('%s gives INVALID_ARGUMENT to memory, create and open', (_label, value) => {
    const options = value as CartridgeOptions;
    expectCode(() => Cartridge.memory(options), 'INVALID_ARGUMENT');
    expectCode(() => Cartridge.create(path(), options), 'INVALID_ARGUMENT');
    Cartridge.create(path()).close();
    expectCode(() => Cartridge.open(path(), options), 'INVALID_ARGUMENT');
  });

  it('accepts every bound itself', () => {
    const cartridge = Cartridge.memory({
      syncIntervalMs: 3_600_000,
      checkpointIntervalBytes: 2 ** 40,
      checkpointIntervalRecords: 2 ** 40,
      bufferPoolBytes: 2 ** 40,
      capacityBlocks: 2 ** 40,
      readOnly: false,
    });
    cartridge.createFile('/x', 'x');
    cartridge.close();
  });
});

describe('member arguments', () => {
  it('createDir with null or non-object options gives INVALID_ARGUMENT, not a TypeError', () => {
    const cartridge = Cartridge.memory();
    expectCode(() => cartridge.createDir('/d', null as unknown as object), 'INVALID_ARGUMENT');
    expectCode(() => cartridge.createDir('/d', 5 as unknown as object), 'INVALID_ARGUMENT');
    expectCode(() => cartridge.createDir('/d', { recursive: 'yes' } as object), 'INVALID_ARGUMENT');
    expect(cartridge.exists('/d')).toBe(false);
    cartridge.createDir('/d', { recursive: true });
    expect(cartridge.exists('/d')).toBe(true);
    cartridge.close();
  });

  it('paths and content of the wrong type give EINVAL', () => {
    const cartridge = Cartridge.memory();
    for (const bad of [null, undefined, 1, {}, [], Symbol('s')]) {
      expectCode(() => cartridge.readFile(bad as string), 'EINVAL');
      expectCode(() => cartridge.createFile(bad as string, 'x'), 'EINVAL');
      expectCode(() => cartridge.listDir(bad as string), 'EINVAL');
      expectCode(() => cartridge.exists(bad as string), 'EINVAL');
      expectCode(() => cartridge.metadata(bad as string), 'EINVAL');
      expectCode(() => cartridge.deleteFile(bad as string), 'EINVAL');
      expectCode(() => cartridge.createDir(bad as string), 'EINVAL');
      expectCode(() => cartridge.createFile('/f', bad as string), 'EINVAL');
    }
    cartridge.close();
  });

  it('a transaction body that is not a function gives INVALID_ARGUMENT', () => {
    const cartridge = Cartridge.memory();
    for (const bad of [null, undefined, 1, {}, 'body']) {
      expectCode(() => cartridge.transaction(bad as () => void), 'INVALID_ARGUMENT');
    }
    cartridge.close();
  });
});
