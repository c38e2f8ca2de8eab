/**
 * Parsers of command-line values, shared by every `trainset` command. Each throws commander's
 * InvalidArgumentError, which commander prints as "error: option '--limit <n>' argument 'x' is invalid.
 * expected a positive integer" and exits with ExitCode.usage.
 */
import { InvalidArgumentError } from '@commander-js/extra-typings';
import { isLogicalDate } from '../shared/ids';

/** A YYYY-MM-DD date (a partition's logical date). */
export function dateArg(value: string): string {
  if (!isLogicalDate(value)) throw new InvalidArgumentError('expected a date as YYYY-MM-DD');
  return value;
}

/** Bounds of an integer option, and how to name its values in the error (default: from the bounds). */
export interface IntegerBounds {
  min?: number;
  max?: number;
  what?: string;
}

function describeBounds({ min, max, what }: IntegerBounds): string {
  if (what) return what;
  if (min !== undefined && max !== undefined) return `an integer from ${min} to ${max}`;
  if (min === 1) return 'a positive integer';
  if (min === 0) return 'a whole number >= 0';
  if (min !== undefined) return `an integer >= ${min}`;
  if (max !== undefined) return `an integer <= ${max}`;
  return 'an integer';
}

/** A parser of decimal integers within bounds ("1e3", "2.0" and "" are refused). */
export function integerArg(bounds: IntegerBounds = {}): (value: string) => number {
  return (value) => {
    const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    const inBounds = (bounds.min === undefined || n >= bounds.min) && (bounds.max === undefined || n <= bounds.max);
    if (!Number.isSafeInteger(n) || !inBounds) throw new InvalidArgumentError(`expected ${describeBounds(bounds)}`);
    return n;
  };
}

/** An integer >= 1 (limits, counts). */
export const positiveIntArg = integerArg({ min: 1 });

/** An integer >= 0 (retention counts, milliseconds). */
export const nonNegativeIntArg = integerArg({ min: 0 });

/** A TCP port, 0 (any free port) to 65535. */
export const portArg = integerArg({ min: 0, max: 65535, what: 'a port number from 0 to 65535' });

/** A number from 0 to 1 (a ratio). */
export function ratioArg(value: string): number {
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

/** A dataset name as specs name them: letters, digits, `-` and `_`, starting with a letter or digit. */
export function datasetArg(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(value)) throw new InvalidArgumentError('expected a dataset name');
  return value;
}
