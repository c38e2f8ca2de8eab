import { createRng } from '../../src/shared/prng';

/** The four classes of the synthetic ticket set. */
export const CLASSES = ['billing', 'shipping', 'technical', 'account'];

const KEYWORDS: Record<string, string[]> = {
  billing: ['invoice', 'charge', 'refund', 'payment', 'card', 'price', 'billed', 'receipt'],
  shipping: ['package', 'delivery', 'courier', 'tracking', 'parcel', 'shipped', 'arrive', 'address'],
  technical: ['crash', 'error', 'bug', 'install', 'update', 'screen', 'loading', 'freeze'],
  account: ['password', 'login', 'username', 'profile', 'locked', 'email', 'signup', 'verify'],
};
const COMMON = [
  'hello',
  'please',
  'help',
  'my',
  'the',
  'is',
  'not',
  'working',
  'today',
  'thanks',
  'urgent',
  'again',
  'why',
  'still',
  'order',
  'i',
  'need',
  'you',
  'can',
  'fix',
];
const CHANNELS = ['email', 'chat', 'phone'];

/** Separable synthetic tickets: each text mixes three keywords of its class with three common words. */
export function syntheticTickets(n: number, seed: number): Record<string, unknown>[] {
  const rng = createRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const label = CLASSES[i % CLASSES.length]!;
    const words = [pick(KEYWORDS[label]!), pick(KEYWORDS[label]!), pick(KEYWORDS[label]!), pick(COMMON), pick(COMMON), pick(COMMON)];
    for (let k = words.length - 1; k > 0; k--) {
      const j = Math.floor(rng() * (k + 1));
      [words[k], words[j]] = [words[j]!, words[k]!];
    }
    return { id: `t${seed}-${i}`, text: words.join(' '), channel: pick(CHANNELS), label };
  });
}
