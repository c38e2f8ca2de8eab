import { describe, expect, it } from 'vitest';
import { secretDetector } from '../../src/pii/detectors-secret';

// Edge cases of the secret detector (src/pii/detectors-secret.ts), written to kill the mutants the general
// detector tests (pii-detectors.test.ts) left alive.

function values(text: string): string[] {
  return secretDetector.find(text).map((s) => {
    expect(s.entity).toBe('SECRET');
    return text.slice(s.start, s.end);
  });
}

const FINE_GRAINED = `github_pat_${'a1B2c3D4e5F6g7H8i9J0k1'}_${'Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g0F9e8D7c6B5a4Z3y2X1w'}`;

describe('secretDetector', () => {
  it.each([
    ['a GitHub fine-grained token', `pat ${FINE_GRAINED} leaked`, FINE_GRAINED],
    ['a Stripe live key', 'key sk_live_4eC39HqLyjWDarjtT1zdp7dc.', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    ['a Google API key', 'key=AIzaSyA-1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6 in config', 'AIzaSyA-1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6'],
  ])('finds %s followed by more text', (_name, text, value) => {
    expect(values(text)).toEqual([value]);
  });

  it('finds a key id with exactly ten distinct characters', () => {
    expect(values('id AKIABCDEFG2BCDEFG2BC')).toEqual(['AKIABCDEFG2BCDEFG2BC']);
  });

  it('does not flag a Slack token prefix glued to a word', () => {
    expect(values('myxoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx')).toEqual([]);
  });

  it('finds a PEM block after a literal "\\n" escape', () => {
    const block = '-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----';
    expect(values(`"key": "abc\\n${block}"`)).toEqual([block]);
  });

  it('runs a cut-off PEM block to the end, past the END line of the block before it', () => {
    const first = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----';
    const second = '-----BEGIN PRIVATE KEY-----\nBBBB';
    expect(values(`${first}\n${second}`)).toEqual([first, second]);
  });
});
