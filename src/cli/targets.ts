import type { CheckoutTarget } from '../engine/checkout.js';

/**
 * A position in history as typed on the command line: a journal offset (digits), a date (ISO
 * 8601, such as `2026-11-30` or `2026-11-30T09:00:00Z`), or else a snapshot name.
 */
export function targetOf(text: string): CheckoutTarget {
  if (/^\d+$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const date = new Date(text);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return text;
}
