/**
 * SQLite's file locks between the handles of one process on one database. Each handle of a
 * database opens its own SQLite connection with its own page cache; the locks make a second
 * connection wait its turn (SQLite reports `SQLITE_BUSY`) instead of reading pages another
 * connection is changing. Databases run in `locking_mode=EXCLUSIVE`, so a connection that has
 * written keeps its lock until it closes: other handles get `SQLITE_BUSY` until then.
 */

/** SQLite's lock levels (`SQLITE_LOCK_*`). */
export const LOCK_NONE = 0;
export const LOCK_SHARED = 1;
export const LOCK_RESERVED = 2;
export const LOCK_PENDING = 3;
export const LOCK_EXCLUSIVE = 4;

export class LockTable {
  /** Per database key, the lock level each holder has. */
  private readonly levels = new Map<string, Map<object, number>>();

  /** Raises `holder`'s lock to `level`; false when another holder's lock is in the way. */
  lock(key: string, holder: object, level: number): boolean {
    const holders = this.holdersOf(key);
    let highestOther = LOCK_NONE;
    for (const [other, otherLevel] of holders) {
      if (other !== holder) highestOther = Math.max(highestOther, otherLevel);
    }
    const allowed =
      level === LOCK_SHARED
        ? highestOther < LOCK_PENDING
        : level === LOCK_RESERVED
          ? highestOther < LOCK_RESERVED
          : highestOther === LOCK_NONE;
    if (!allowed) return false;
    holders.set(holder, Math.max(level, holders.get(holder) ?? LOCK_NONE));
    return true;
  }

  /** Lowers `holder`'s lock to `level` (`LOCK_NONE` releases it). */
  unlock(key: string, holder: object, level: number): void {
    const holders = this.holdersOf(key);
    if (level === LOCK_NONE) holders.delete(holder);
    else holders.set(holder, Math.min(level, holders.get(holder) ?? LOCK_NONE));
    if (holders.size === 0) this.levels.delete(key);
  }

  /** Whether a holder other than `holder` has a reserved lock or more. */
  reservedByOther(key: string, holder: object): boolean {
    for (const [other, level] of this.holdersOf(key)) {
      if (other !== holder && level >= LOCK_RESERVED) return true;
    }
    return false;
  }

  private holdersOf(key: string): Map<object, number> {
    let holders = this.levels.get(key);
    if (holders === undefined) {
      holders = new Map();
      this.levels.set(key, holders);
    }
    return holders;
  }
}
