/**
 * The actions a policy speaks of. An operation asks for exactly one of the five concrete
 * actions; `All` exists only in statements, where it matches every one of them.
 */

export type Action = 'Read' | 'Write' | 'Create' | 'Delete' | 'List' | 'All';

/** What one operation asks for: never `All`. */
export type RequestAction = Exclude<Action, 'All'>;

/** Every action in canonical order: the order a loaded statement lists its actions in. */
export const ACTIONS: readonly Action[] = ['Read', 'Write', 'Create', 'Delete', 'List', 'All'];

export const REQUEST_ACTIONS: readonly RequestAction[] = [
  'Read',
  'Write',
  'Create',
  'Delete',
  'List',
];

const ACTION_BY_LOWER_CASE_NAME = new Map<string, Action>([
  ...ACTIONS.map((action): [string, Action] => [action.toLowerCase(), action]),
  ['*', 'All'],
]);

/** The prefix AWS puts before an action's name; `cartridge:Read` is accepted as `Read`. */
const SERVICE_PREFIX = 'cartridge:';

/**
 * The action a policy's spelling names (`read`, `READ`, `cartridge:Read`, `*`), or null when it
 * names none. Names are case-insensitive, as AWS's are.
 */
export function parseActionName(spelling: string): Action | null {
  let name = spelling.toLowerCase();
  if (name.startsWith(SERVICE_PREFIX)) name = name.slice(SERVICE_PREFIX.length);
  return ACTION_BY_LOWER_CASE_NAME.get(name) ?? null;
}

export function isRequestAction(value: unknown): value is RequestAction {
  return typeof value === 'string' && (REQUEST_ACTIONS as readonly string[]).includes(value);
}
