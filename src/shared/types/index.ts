/**
 * Types that cross the workflow/activity boundary, one file per domain. They carry references, counts and small
 * stats, never records or PII (claim check).
 */
export type * from './run';
export type * from './gate';
export type * from './canary';
export type * from './data';
export type * from './labeling';
export type * from './training';
export type * from './monitor';
