import { PATH_MAX_BYTES } from '../limits.js';

/**
 * Bounds on everything a policy's author controls. A policy is untrusted input that ends up in
 * a journal record and on the path of every operation, so each count and length is checked
 * before it is used; a policy over any of them does not load (`INVALID_ARGUMENT`).
 */

/** Statements in one policy. */
export const POLICY_STATEMENTS_MAX = 256;

/** A policy's JSON text, and its canonical serialised form (it must fit in a journal record). */
export const POLICY_TEXT_MAX_BYTES = 256 * 1024;

/** Entries in one statement's `Action` list (there are six actions; repeats are allowed). */
export const STATEMENT_ACTIONS_MAX = 16;

/** Entries in one statement's `Resource` list. */
export const STATEMENT_RESOURCES_MAX = 64;

/** One resource pattern, in UTF-8 bytes as written (the bound paths have). */
export const RESOURCE_PATTERN_MAX_BYTES = PATH_MAX_BYTES;

/** `*`, `**` and `?` in one resource pattern or one `StringLike` value. */
export const PATTERN_WILDCARDS_MAX = 32;

/** Condition operators in one statement's `Condition` block. */
export const STATEMENT_CONDITION_OPERATORS_MAX = 16;

/** Condition keys under one operator. */
export const CONDITION_KEYS_MAX = 16;

/** Values for one key under one operator (they are ORed). */
export const CONDITION_VALUES_MAX = 64;

/** Condition values in one statement, over all its operators and keys. */
export const STATEMENT_CONDITION_VALUES_MAX = 256;

/** A statement's `Sid`, in characters. */
export const SID_MAX_LENGTH = 128;

/** A condition key, in characters. */
export const CONDITION_KEY_MAX_LENGTH = 128;

/** One condition value, in characters. */
export const CONDITION_VALUE_MAX_LENGTH = 1024;

/** Decisions an evaluator keeps in its cache by default. */
export const DECISION_CACHE_ENTRIES_DEFAULT = 4096;

/** The characters of all cache keys together (actor and path), so long paths cannot bloat it. */
export const DECISION_CACHE_KEY_CHARACTERS_MAX = 4 * 1024 * 1024;
