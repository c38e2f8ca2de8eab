import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseDatasetSpec, type DatasetSpec } from '../../src/shared/spec';

/** The tickets spec as shipped. */
export const ticketsSpec: DatasetSpec = parseDatasetSpec(
  parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')),
  'tickets.yaml',
);

/** The tickets spec with extra typed fields (integer, number, boolean, list, nested object) for contract and format tests. */
export function richSpec(patch: { unknownFields?: 'keep' | 'drop' | 'reject'; maxDepth?: number } = {}): DatasetSpec {
  const raw = parse(readFileSync(join(__dirname, '../../specs/tickets.yaml'), 'utf8')) as {
    schema: { fields: Record<string, unknown>; unknownFields?: string };
    ingest?: Record<string, unknown>;
  };
  raw.schema.fields = {
    ...raw.schema.fields,
    priority: { type: 'integer', required: false, minimum: 1, maximum: 5 },
    score: { type: 'number', required: false, minimum: 0, maximum: 1 },
    vip: { type: 'boolean', required: false },
    tags: { type: 'list', required: false, maxLength: 3, items: { type: 'string', minLength: 2 } },
    meta: {
      type: 'object',
      required: false,
      fields: {
        source: { type: 'enum', values: ['web', 'api'] },
        ip: { type: 'string', required: false },
        seen: { type: 'timestamp', required: false },
      },
    },
  };
  if (patch.unknownFields) raw.schema.unknownFields = patch.unknownFields;
  if (patch.maxDepth) raw.ingest = { ...raw.ingest, maxDepth: patch.maxDepth };
  return parseDatasetSpec(raw, 'rich');
}

/** A valid ticket record. */
export const goodTicket = {
  id: 'T-1',
  created_at: '2024-03-01T10:00:00Z',
  channel: 'email',
  subject: 'refund please',
  body: 'I was charged twice',
  queue: 'billing',
};
