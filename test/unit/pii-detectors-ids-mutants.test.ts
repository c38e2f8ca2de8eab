import { describe, expect, it } from 'vitest';
import type { PiiDetector } from '../../src/pii/detectors';
import { ibanDetector, ibanShapes, ssnDetector } from '../../src/pii/detectors-ids';
import { findPii } from '../../src/pii/engine';

// Edge cases of the SSN and IBAN detectors (src/pii/detectors-ids.ts), written to kill the mutants the general
// detector tests (pii-detectors.test.ts) left alive.

function values(detector: PiiDetector, text: string): string[] {
  return detector.find(text).map((s) => {
    expect(s.entity).toBe(detector.entity);
    return text.slice(s.start, s.end);
  });
}

describe('ssnDetector', () => {
  it.each([
    ['"soc sec"', 'soc sec 536221234', '536221234'],
    ['"soc.sec"', 'soc.sec 536221234', '536221234'],
    ['"soc. sec"', 'soc. sec: 536 22 1234', '536 22 1234'],
    ['a context word with a digit before it', 'ref A1, SSN 536221234', '536221234'],
  ])('finds a bare SSN after %s', (_name, text, value) => {
    expect(values(ssnDetector, text)).toEqual([value]);
  });

  it.each([
    ['area 000', 'SSN: 000221234'],
    ['area 666', 'SSN 666 22 1234'],
    ['group 00', 'social security 536001234'],
  ])('does not flag a bare number after a context word with %s', (_name, text) => {
    expect(values(ssnDetector, text)).toEqual([]);
  });
});

describe('ibanShapes and ibanDetector', () => {
  it('ends a spaced IBAN before the next word', () => {
    expect(values(ibanDetector, 'IBAN DE89 3704 0044 0532 0130 00 thanks')).toEqual(['DE89 3704 0044 0532 0130 00']);
  });

  it('does not flag an IBAN glued to a following letter', () => {
    expect(values(ibanDetector, 'DE89370400440532013000X')).toEqual([]);
    expect(ibanShapes('DE89370400440532013000X')).toEqual([]);
  });

  it('finds no shape in dash-grouped digits or in an IBAN cut short', () => {
    expect(ibanShapes('ref DE89-3704-0044-0532-0130-00')).toEqual([]);
    expect(ibanShapes('acct DE8937040044')).toEqual([]);
    // 22 characters with the dashes, followed by a space: still not a shape.
    expect(ibanShapes('ref DE89-3704-0044-0532-01 ok')).toEqual([]);
  });

  it('finds an IBAN whose only digits are its check digits (Latvia allows a letters-only BBAN)', () => {
    const text = 'acct LV46BBBBBBBBBBBBBBBBB';
    expect(findPii(text, ['IBAN_CODE']).map((s) => text.slice(s.start, s.end))).toEqual(['LV46BBBBBBBBBBBBBBBBB']);
  });

  it('reports the shape of a compact IBAN with a bad checksum', () => {
    expect(ibanShapes('to DE88370400440532013000.')).toEqual([{ start: 3, end: 25, compact: 'DE88370400440532013000' }]);
  });
});
