/** The run's custom search attributes, kept in step with its status so `temporal workflow list --query` finds it. */
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { patched, upsertSearchAttributes } from '@temporalio/workflow';
import {
  DatasetSearchAttribute,
  DeployModeSearchAttribute,
  DatasetVersionSearchAttribute,
  LogicalDateSearchAttribute,
  ModelVersionSearchAttribute,
  OutcomeSearchAttribute,
  StageSearchAttribute,
  TrainModeSearchAttribute,
} from '../shared/search-attributes';
import type { PipelineStatus } from '../shared/types';
import { SEARCH_ATTRIBUTES } from './patches';

/** A function that upserts the attributes whose values changed since its last call (unchanged: no command). */
export function searchAttributesSync(): (status: PipelineStatus) => void {
  const last = new Map<string, string>();
  return (status) => {
    // Runs recorded before the attributes existed replay without the upserts.
    if (!patched(SEARCH_ATTRIBUTES)) return;
    const outcome = status.outcome ?? (status.stage === 'failed' ? 'failed' : undefined);
    const wanted = [
      { key: DatasetSearchAttribute, value: status.dataset },
      { key: LogicalDateSearchAttribute, value: status.logicalDate },
      { key: DatasetVersionSearchAttribute, value: status.datasetVersion?.versionId },
      { key: ModelVersionSearchAttribute, value: status.modelVersion?.modelVersionId },
      { key: StageSearchAttribute, value: status.stage },
      { key: OutcomeSearchAttribute, value: outcome },
      // Set only by runs that have modes (PIPELINE_V2); older runs upsert what they always did.
      { key: TrainModeSearchAttribute, value: status.mode?.train },
      { key: DeployModeSearchAttribute, value: status.mode?.deploy },
    ];
    const changed: SearchAttributeUpdatePair[] = [];
    for (const { key, value } of wanted) {
      if (value === undefined || last.get(key.name) === value) continue;
      changed.push({ key, value });
      last.set(key.name, value);
    }
    if (changed.length > 0) upsertSearchAttributes(changed);
  };
}
