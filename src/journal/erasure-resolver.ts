import { decodeEvent } from './event-codec.js';
import type { StorageFile } from './io/storage.js';
import { RecordType } from './journal-event.js';
import { type ErasureLookup, type KnownErasure, RecordScanner } from './journal-reader.js';
import { isCommit, isSealed } from './record-frame.js';

/**
 * Finds, for a scan in journal order, the erasure of a record whose payload checksum fails.
 * The `content.erased` record that names an erased blob always lies after it (it is written
 * later), so a scan meets the erased record first. On its first miss the resolver reads ahead
 * from there, once, to the end of the file: it walks headers only (erased payloads do not
 * check out and are stepped over by their lengths) and collects every `content.erased` record
 * whose payload checks out and whose commit is complete. A journal without erasures never
 * pays for this: it runs only when a checksum fails.
 *
 * What it collects is a claim, not yet proof: whoever replays or verifies in order meets the
 * `content.erased` record itself later, and checks it there like any record (the chain covers
 * it). `used` lists what the resolver handed out, so that `verify` can require each claim to
 * have been met and checked inside the range it verified.
 */
export class ErasureResolver {
  private readonly known = new Map<number, KnownErasure>();
  private scanner: RecordScanner | undefined;
  private exhausted = false;
  /** The erasures handed out, in the order asked. */
  readonly used: KnownErasure[] = [];

  constructor(
    private readonly file: StorageFile,
    /** What the head already knows (its index), asked first; undefined while opening. */
    private readonly head: ErasureLookup | undefined,
  ) {}

  /** The lookup to give a `RecordScanner`. */
  readonly lookup: ErasureLookup = (offset) => {
    const found = this.head?.(offset) ?? this.find(offset);
    if (found !== undefined) this.used.push(found);
    return found;
  };

  private find(offset: number): KnownErasure | undefined {
    const known = this.known.get(offset);
    if (known !== undefined || this.exhausted) return known;
    this.scanner ??= new RecordScanner(this.file, offset, this.file.sizeBytes());
    // Erasures in a commit count once the commit is complete: a torn tail proves nothing.
    let pending: KnownErasure[] = [];
    for (;;) {
      const step = this.scanner.nextLenient();
      if (step.kind !== 'record') {
        this.exhausted = true;
        return this.known.get(offset);
      }
      if (
        step.payloadValid &&
        step.header.type === RecordType.ContentErased &&
        !isSealed(step.header)
      ) {
        const event = decodeQuietly(step.body);
        if (event !== undefined && event.type === 'content.erased') {
          for (const erased of event.erasures) {
            pending.push({ erased, kind: event.kind, erasureOffset: step.offset });
          }
        }
      }
      if (isCommit(step.header)) {
        for (const erasure of pending) this.known.set(erasure.erased.recordOffset, erasure);
        pending = [];
        const found = this.known.get(offset);
        if (found !== undefined) return found;
      }
    }
  }
}

/** A body that does not decode is not an erasure; the scan in order reports it in its place. */
function decodeQuietly(body: Buffer): ReturnType<typeof decodeEvent> | undefined {
  try {
    return decodeEvent(RecordType.ContentErased, body);
  } catch {
    return undefined;
  }
}
