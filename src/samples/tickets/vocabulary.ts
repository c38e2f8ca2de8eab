/** Queues a support ticket can be routed to (the sample dataset's label classes). */
export const TICKET_QUEUES = ['billing', 'technical', 'account', 'shipping'] as const;

/** One ticket queue. */
export type TicketQueue = (typeof TICKET_QUEUES)[number];

/** Keywords that signal each queue; the generator writes with them and the labeler votes with them. */
export const QUEUE_KEYWORDS: Readonly<Record<TicketQueue, readonly string[]>> = {
  billing: [
    'invoice',
    'refund',
    'charged',
    'payment',
    'billing',
    'subscription',
    'receipt',
    'overcharged',
    'price',
    'discount',
    'tax',
    'renewal',
    'credit',
    'fee',
    'statement',
  ],
  technical: [
    'error',
    'crash',
    'bug',
    'loading',
    'slow',
    'sync',
    'install',
    'update',
    'browser',
    'api',
    'timeout',
    'freeze',
    'screen',
    'upload',
    'export',
  ],
  account: [
    'password',
    'reset',
    'locked',
    'username',
    'profile',
    'verification',
    '2fa',
    'deactivate',
    'settings',
    'signup',
    'permissions',
    'security',
    'login',
    'unlock',
    'rename',
  ],
  shipping: [
    'delivery',
    'package',
    'tracking',
    'shipped',
    'courier',
    'address',
    'delayed',
    'arrived',
    'damaged',
    'warehouse',
    'parcel',
    'shipment',
    'carrier',
    'dispatch',
    'postage',
  ],
};

/** Words every queue uses, so no single token gives a ticket away. */
export const SHARED_WORDS: readonly string[] = [
  'order',
  'account',
  'issue',
  'problem',
  'help',
  'urgent',
  'again',
  'still',
  'today',
  'yesterday',
  'week',
  'service',
  'app',
  'website',
  'support',
  'customer',
];

/** Subject line templates; `{k}` is a keyword slot, `{w}` a shared word. */
export const SUBJECT_TEMPLATES: readonly string[] = [
  '{k} {w}',
  'Question about {k}',
  '{w}: {k} not working',
  'Need help with {k}',
  'Re: {k} {k}',
  '{k} problem',
  'Urgent - {k}',
];

/** Body sentence templates; `{k}` is a keyword slot, `{w}` a shared word. */
export const SENTENCE_TEMPLATES: readonly string[] = [
  'I have a {w} with the {k}.',
  'The {k} has not worked since {day}.',
  'Can you check the {k} and the {k}?',
  'It shows {k} every time I try {w}.',
  'My {k} {w} is still open.',
  'This is about my {k}, please {w}.',
  'I contacted {w} about the {k} {day} but nothing changed.',
  'Why is the {k} like this?',
  'The {k} for my {w} looks wrong.',
  'Please fix the {k} {w} as soon as possible.',
];

/** Greetings and sign-offs, class-neutral. */
export const GREETINGS: readonly string[] = ['Hi,', 'Hello,', 'Hi team,', 'Good morning,', 'Dear support,', ''];
/** Closing lines, class-neutral. */
export const SIGN_OFFS: readonly string[] = ['Thanks.', 'Thank you!', 'Regards, a customer', 'Cheers', ''];
/** Relative days used in sentences. */
export const DAYS: readonly string[] = ['yesterday', 'last week', 'Monday', 'this morning', 'two days ago'];
