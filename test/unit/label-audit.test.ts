/** Label accuracy from an audit sample (M1): a labeling function against the reference labels records carry. */
import { describe, expect, it } from 'vitest';
import { createLabelAudit, labelAccuracy } from '../../src/labeling/label-audit';

/** A labeler that reads its guess from the record's `guess` field (absent: it abstains). */
const byGuess = (record: Record<string, unknown>): string | undefined => (typeof record.guess === 'string' ? record.guess : undefined);

function audit(records: Array<Record<string, unknown>>) {
  const a = createLabelAudit({ labeler: 'lf', label: byGuess, labelField: 'queue', classes: ['billing', 'technical'] });
  for (const r of records) a.observe(r);
  return a.result();
}

describe('createLabelAudit', () => {
  it.each([
    { name: 'counts an agreement', records: [{ queue: 'billing', guess: 'billing' }], sampled: 1, agreed: 1 },
    { name: 'counts a disagreement as sampled, not agreed', records: [{ queue: 'billing', guess: 'technical' }], sampled: 1, agreed: 0 },
    { name: 'leaves out an abstention', records: [{ queue: 'billing' }], sampled: 0, agreed: 0 },
    { name: 'leaves out a record without a reference label', records: [{ guess: 'billing' }], sampled: 0, agreed: 0 },
    { name: 'leaves out a reference outside the classes', records: [{ queue: 'shipping', guess: 'shipping' }], sampled: 0, agreed: 0 },
    { name: 'leaves out a reference that is not a string', records: [{ queue: 1, guess: '1' }], sampled: 0, agreed: 0 },
    {
      name: 'adds up a mixed sample',
      records: [
        { queue: 'billing', guess: 'billing' },
        { queue: 'technical', guess: 'technical' },
        { queue: 'technical', guess: 'billing' },
        { queue: 'technical' },
        { guess: 'technical' },
      ],
      sampled: 3,
      agreed: 2,
    },
  ])('$name', ({ records, sampled, agreed }) => {
    expect(audit(records)).toEqual({ labeler: 'lf', sampled, agreed });
  });
});

describe('labelAccuracy', () => {
  it('is the agreed share of the sample, and no estimate for an empty sample', () => {
    expect(labelAccuracy({ labeler: 'lf', sampled: 4, agreed: 3 })).toBe(0.75);
    expect(labelAccuracy({ labeler: 'lf', sampled: 0, agreed: 0 })).toBeUndefined();
  });
});
