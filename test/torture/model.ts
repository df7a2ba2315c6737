import { createHash, generateKeyPairSync } from 'node:crypto';
import { type Cartridge, CartridgeError } from '../../src/index.js';

/**
 * The reference model of the torture campaigns: a plain map from canonical path to a file's
 * bytes or a directory marker, and the operations workloads issue, applied to both the model
 * and a cartridge. The model is deliberately naive so that it is obviously right.
 */

export type ModelState = ReadonlyMap<string, Buffer | 'directory'>;

export type Operation =
  | { readonly kind: 'create'; readonly path: string; readonly bytes: Buffer }
  | { readonly kind: 'write'; readonly path: string; readonly bytes: Buffer }
  | { readonly kind: 'append'; readonly path: string; readonly bytes: Buffer }
  | { readonly kind: 'delete'; readonly path: string }
  | { readonly kind: 'mkdir'; readonly path: string }
  /** Moves an entry and its subtree (`cart.rename`); the target must be free. */
  | { readonly kind: 'rename'; readonly path: string; readonly to: string }
  | { readonly kind: 'transaction'; readonly operations: readonly Operation[]; readonly abort?: boolean }
  | { readonly kind: 'checkpoint' }
  /** `compact()`: the state is unchanged; the file is rewritten and renamed over the old. */
  | { readonly kind: 'compact' }
  | { readonly kind: 'flush' }
  | { readonly kind: 'snapshot'; readonly name: string }
  /** Signs a checkpoint (a `head.signed` record; the files do not change). */
  | { readonly kind: 'sign' }
  /** Sets an access policy (a journal record; the files do not change). */
  | { readonly kind: 'policy'; readonly policy: unknown }
  /** Restores a snapshot; `state` is the model's state when it was taken. */
  | { readonly kind: 'restore'; readonly name: string; readonly state: ModelState }
  /** An operation the engine must refuse with `code`, changing nothing. */
  | { readonly kind: 'refused'; readonly operation: Operation; readonly code: string };

function parentsOf(path: string): string[] {
  const parents: string[] = [];
  for (let index = path.indexOf('/', 1); index !== -1; index = path.indexOf('/', index + 1)) {
    parents.push(path.slice(0, index));
  }
  return parents;
}

/** Applies an operation to the model; workloads only issue operations valid in the model. */
export function applyToModel(state: ModelState, operation: Operation): ModelState {
  const next = new Map(state);
  switch (operation.kind) {
    case 'create':
      for (const parent of parentsOf(operation.path)) if (!next.has(parent)) next.set(parent, 'directory');
      next.set(operation.path, operation.bytes);
      return next;
    case 'write':
      next.set(operation.path, operation.bytes);
      return next;
    case 'append': {
      const before = next.get(operation.path);
      if (!(before instanceof Buffer)) throw new Error(`model: append to ${operation.path}`);
      next.set(operation.path, Buffer.concat([before, operation.bytes]));
      return next;
    }
    case 'delete':
      next.delete(operation.path);
      return next;
    case 'mkdir':
      for (const parent of parentsOf(operation.path)) if (!next.has(parent)) next.set(parent, 'directory');
      next.set(operation.path, 'directory');
      return next;
    case 'rename':
      for (const [path, value] of state) {
        if (path !== operation.path && !path.startsWith(`${operation.path}/`)) continue;
        next.delete(path);
        next.set(operation.to + path.slice(operation.path.length), value);
      }
      return next;
    case 'transaction':
      if (operation.abort === true) return state;
      return operation.operations.reduce(applyToModel, state as ModelState);
    case 'restore':
      return new Map(operation.state);
    case 'checkpoint':
    case 'compact':
    case 'flush':
    case 'snapshot':
    case 'policy':
    case 'sign':
    case 'refused':
      return state;
  }
}

/** The key of the `sign` operation: any Ed25519 key will do, the campaigns do not keep it. */
const SIGNING_KEY = generateKeyPairSync('ed25519').privateKey;

class AbortRequested extends Error {}

export function applyToCartridge(cartridge: Cartridge, operation: Operation): void {
  switch (operation.kind) {
    case 'create':
      return cartridge.createFile(operation.path, operation.bytes);
    case 'write':
      return cartridge.writeFile(operation.path, operation.bytes);
    case 'append':
      return cartridge.appendFile(operation.path, operation.bytes);
    case 'delete':
      return cartridge.deleteFile(operation.path);
    case 'mkdir':
      return cartridge.createDir(operation.path, { recursive: true });
    case 'rename':
      return cartridge.rename(operation.path, operation.to);
    case 'checkpoint':
      return cartridge.checkpoint();
    case 'compact':
      cartridge.compact();
      return;
    case 'flush':
      return cartridge.flush();
    case 'snapshot':
      cartridge.createSnapshot(operation.name);
      return;
    case 'restore':
      cartridge.restoreSnapshot(operation.name);
      return;
    case 'policy':
      cartridge.setPolicy(operation.policy);
      return;
    case 'sign':
      cartridge.signCheckpoint(SIGNING_KEY);
      return;
    case 'refused':
      try {
        applyToCartridge(cartridge, operation.operation);
      } catch (error) {
        if (isCode(error, operation.code)) return;
        throw error;
      }
      throw new Error(`expected ${operation.code} from ${operation.operation.kind}`);
    case 'transaction':
      try {
        cartridge.transaction(() => {
          for (const inner of operation.operations) applyToCartridge(cartridge, inner);
          if (operation.abort === true) throw new AbortRequested();
        });
      } catch (error) {
        if (!(error instanceof AbortRequested)) throw error;
      }
      return;
  }
}

/** A digest of a model state, independent of insertion order. */
export function digestOfModel(state: ModelState): string {
  const rows = [...state.entries()].map(([path, value]) =>
    `${path}\u0000${value === 'directory' ? 'd' : createHash('sha256').update(value).digest('hex')}`,
  );
  rows.sort();
  return createHash('sha256').update(rows.join('\n')).digest('hex');
}

/** Reads every entry of a cartridge by walking it from the root (bounded by its entry count). */
export function readState(cartridge: Cartridge): ModelState {
  const state = new Map<string, Buffer | 'directory'>();
  const stack = ['/'];
  const limit = cartridge.stats().fileCount + cartridge.stats().directoryCount + 1;
  for (let visited = 0; stack.length > 0; visited++) {
    if (visited > limit) throw new Error('walk visited more entries than the cartridge holds');
    const directory = stack.pop() as string;
    for (const name of cartridge.listDir(directory)) {
      const path = directory === '/' ? `/${name}` : `${directory}/${name}`;
      if (cartridge.metadata(path).type === 'directory') {
        state.set(path, 'directory');
        stack.push(path);
      } else {
        state.set(path, cartridge.readFile(path));
      }
    }
  }
  return state;
}

export function isCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof CartridgeError && codes.includes(error.code);
}
