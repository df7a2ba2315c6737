import { describe, expect, it } from 'vitest';
import {
  decide,
  matchingCases,
  RECOVERY_CASES,
  type RecoveryFacts,
} from '../../../src/journal/recovery.js';

/**
 * The recovery table, checked the TigerBeetle way: every one of the 2^5 combinations of the
 * predicates matches exactly one labelled case, so no situation is undecided or ambiguous.
 */

const PREDICATES = ['damage', 'pendingCommit', 'zerosToEnd', 'laterCommitFound', 'beyondSynced'] as const;

function allFacts(): RecoveryFacts[] {
  const facts: RecoveryFacts[] = [];
  for (let bits = 0; bits < 2 ** PREDICATES.length; bits++) {
    facts.push({
      damage: (bits & 1) !== 0,
      pendingCommit: (bits & 2) !== 0,
      zerosToEnd: (bits & 4) !== 0,
      laterCommitFound: (bits & 8) !== 0,
      beyondSynced: (bits & 16) !== 0,
    });
  }
  return facts;
}

describe('RECOVERY_CASES', () => {
  it('matches exactly one case for each of the 32 combinations', () => {
    const facts = allFacts();
    expect(facts).toHaveLength(32);
    for (const fact of facts) {
      const found = matchingCases(fact);
      expect(found.map((found) => found.label), JSON.stringify(fact)).toHaveLength(1);
      expect(decide(fact)).toBe(found[0]);
    }
  });

  it('has no case that no combination reaches, and unique labels', () => {
    const reached = new Set(allFacts().map((fact) => decide(fact).label));
    expect([...reached].sort()).toEqual(RECOVERY_CASES.map((candidate) => candidate.label).sort());
    expect(new Set(RECOVERY_CASES.map((candidate) => candidate.label)).size).toBe(RECOVERY_CASES.length);
  });

  it('fails exactly when the scan stops inside data known to be durable', () => {
    for (const fact of allFacts()) {
      expect(decide(fact).decision === 'fail-corrupt', JSON.stringify(fact)).toBe(!fact.beyondSynced);
    }
  });

  it('accepts only an undamaged journal whose commits are all closed and that is not cut short', () => {
    for (const fact of allFacts()) {
      const expectedAccept = !fact.damage && !fact.pendingCommit && fact.beyondSynced;
      expect(decide(fact).decision === 'accept', JSON.stringify(fact)).toBe(expectedAccept);
    }
  });

  it('decides the situations the documentation names', () => {
    const base: RecoveryFacts = {
      damage: false, pendingCommit: false, zerosToEnd: false, laterCommitFound: false, beyondSynced: true,
    };
    expect(decide(base).label).toBe('@clean');
    expect(decide({ ...base, beyondSynced: false }).label).toBe('@truncated');
    expect(decide({ ...base, pendingCommit: true }).label).toBe('@unfinished-commit');
    expect(decide({ ...base, damage: true, zerosToEnd: true }).label).toBe('@zero-tail');
    expect(decide({ ...base, damage: true }).label).toBe('@torn-tail');
    expect(decide({ ...base, damage: true, laterCommitFound: true }).label).toBe('@unsynced-reorder');
    expect(decide({ ...base, damage: true, beyondSynced: false }).label).toBe('@damaged-durable');
    expect(decide({ ...base, damage: true, zerosToEnd: true, beyondSynced: false }).label).toBe('@damaged-durable');
  });
});
