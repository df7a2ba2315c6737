import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { MeasureOptions } from '../measure.js';
import { type MaybeAsyncHot, measurePairAsync } from '../measure-async.js';
import type { Target, WorkloadContext } from '../report.js';
import { scratchDirectory } from '../support.js';
import { openPeer, type PeerName } from './open-peer.js';
import type { PeerDurability, PeerStore } from './peer-store.js';

/**
 * One same-run comparison of Cartridge with one peer: both stores are opened in a fresh
 * scratch directory at matched durability, filled by `prepare` (never timed), optionally closed
 * and opened again (the cold case), and then one operation of each is measured with rounds
 * alternating. The figure is `peer_time / cartridge_time` (higher is better for Cartridge): a
 * figure with a target when `target` is given, else a plain line.
 */
export interface PeerPairSpec {
  /** The figure's name without `_ratio`, for example `peer_put_4k_vs_sqlite`. */
  readonly figure: string;
  readonly peer: PeerName;
  readonly peerDurability: PeerDurability;
  readonly cartridgeDurability: PeerDurability;
  readonly settings: MeasureOptions;
  readonly target?: Target;
  /** Another figure with a target reporting the same ratio (an issue's name for it). */
  readonly alias?: string;
  /** Close and reopen both stores after `prepare`, so that reads start from their cold caches. */
  readonly reopen?: boolean;
  /** Fills a store before timing; the same for both sides. */
  readonly prepare?: (store: PeerStore) => Promise<void>;
  /** The operation timed: a fresh closure for each store. */
  readonly operation: (store: PeerStore) => MaybeAsyncHot;
}

const us = (ns: number): number => ns / 1000;

/** Names that peer figures register, with their targets, for `Report.expect`. */
export function pairFigures(
  specs: readonly Pick<PeerPairSpec, 'figure' | 'target' | 'alias'>[],
): { name: string; target: Target }[] {
  const figures: { name: string; target: Target }[] = [];
  for (const spec of specs) {
    if (spec.target === undefined) continue;
    figures.push({ name: `${spec.figure}_ratio`, target: spec.target });
    if (spec.alias !== undefined) figures.push({ name: spec.alias, target: spec.target });
  }
  return figures;
}

export async function runPeerPair(spec: PeerPairSpec, context: WorkloadContext): Promise<void> {
  const { report, checksum, deadline } = context;
  deadline.check();
  const scratch = scratchDirectory(spec.figure.replaceAll('_', '-'));
  const cartridgeDirectory = join(scratch.path, 'cartridge');
  const peerDirectory = join(scratch.path, spec.peer);
  mkdirSync(cartridgeDirectory);
  mkdirSync(peerDirectory);
  const cartridgeKind: PeerName = spec.peer === 'memfs' ? 'cartridge-memory' : 'cartridge';
  const open = (side: 'cartridge' | 'peer'): Promise<PeerStore> =>
    side === 'cartridge'
      ? openPeer(cartridgeKind, cartridgeDirectory, spec.cartridgeDurability)
      : openPeer(spec.peer, peerDirectory, spec.peerDurability);
  const stores: PeerStore[] = [];
  try {
    let cartridge = await open('cartridge');
    stores.push(cartridge);
    let peer = await open('peer');
    stores.push(peer);
    if (spec.prepare !== undefined) {
      await spec.prepare(cartridge);
      await spec.prepare(peer);
    }
    if (spec.reopen === true) {
      stores.length = 0;
      await cartridge.close();
      await peer.close();
      cartridge = await open('cartridge');
      stores.push(cartridge);
      peer = await open('peer');
      stores.push(peer);
    }
    deadline.check();
    const timing = await measurePairAsync(
      spec.operation(cartridge),
      spec.operation(peer),
      spec.settings,
      checksum,
    );
    const ratio = timing.baseline.medianNs / timing.subject.medianNs;
    if (spec.target === undefined) report.line(`${spec.figure}_ratio`, ratio);
    else report.figure(`${spec.figure}_ratio`, ratio);
    if (spec.alias !== undefined) report.figure(spec.alias, ratio);
    report.line(`${spec.figure}_cartridge_us`, us(timing.subject.medianNs), 2);
    report.line(`${spec.figure}_${spec.peer}_us`, us(timing.baseline.medianNs), 2);
    report.line(
      `${spec.figure}_cpu_ratio`,
      timing.baseline.medianCpuNs / timing.subject.medianCpuNs,
    );
    report.line(
      `${spec.figure}_configuration`,
      `${cartridge.configuration}; ${peer.configuration}`,
    );
  } finally {
    let closeError: unknown;
    for (const store of stores) {
      try {
        await store.close();
      } catch (error) {
        closeError ??= error;
      }
    }
    scratch.remove();
    if (closeError !== undefined) throw closeError;
  }
}
