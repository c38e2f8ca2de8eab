import { QUEUE_KEYWORDS, TICKET_QUEUES, type TicketQueue } from './vocabulary';

const KEYWORD_QUEUE: ReadonlyMap<string, TicketQueue> = new Map(
  TICKET_QUEUES.flatMap((q) => QUEUE_KEYWORDS[q].map((k) => [k, q] as const)),
);

/** Votes per queue from keyword labeling functions over a text (subject words count double). */
export function keywordVotes(subject: string, body: string): Record<TicketQueue, number> {
  const votes: Record<TicketQueue, number> = { billing: 0, technical: 0, account: 0, shipping: 0 };
  const tally = (text: string, weight: number): void => {
    for (const token of text.toLowerCase().split(/[^a-z0-9]+/)) {
      const q = KEYWORD_QUEUE.get(token);
      if (q) votes[q] += weight;
    }
  };
  tally(subject, 2);
  tally(body, 1);
  return votes;
}

/**
 * Programmatic labeler (Snorkel-style keyword labeling functions): the queue with the most votes,
 * or undefined (abstain) when nothing matched or the top queues tie.
 */
export function programmaticLabel(record: Record<string, unknown>): TicketQueue | undefined {
  const subject = typeof record.subject === 'string' ? record.subject : '';
  const body = typeof record.body === 'string' ? record.body : '';
  const votes = keywordVotes(subject, body);
  let best: TicketQueue | undefined;
  let bestVotes = 0;
  let tied = false;
  for (const q of TICKET_QUEUES) {
    if (votes[q] > bestVotes) {
      best = q;
      bestVotes = votes[q];
      tied = false;
    } else if (votes[q] === bestVotes && bestVotes > 0) {
      tied = true;
    }
  }
  return tied ? undefined : best;
}
