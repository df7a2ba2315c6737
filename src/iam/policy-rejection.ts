/**
 * Why part of a policy does not load. The parts of the policy module throw it without knowing
 * which statement they are reading; `loadPolicy` catches it and raises `INVALID_ARGUMENT`
 * naming the statement, so every message says where the problem is.
 */
export class PolicyRejection extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'PolicyRejection';
  }
}

/** A value quoted for a message: JSON-escaped and cut short, so a hostile value stays small. */
export function quoted(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
