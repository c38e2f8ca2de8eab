/** Commit a run's history for the replay tests (test/workflows/replay*.test.ts) when RECORD_HISTORIES=1. */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * Write the history of `handle` (a finished run) to test/histories/<name> when RECORD_HISTORIES=1; otherwise do
 * nothing. Every file there is replayed by test/workflows/replay.test.ts.
 */
export async function recordHistory(name: string, handle: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> }): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  await writeFile(path.join(__dirname, '../histories', name), historyToJSON(await handle.fetchHistory()));
}
