/**
 * Custom search attributes of trainset's workflows: typed keys for clients (set at start) and workflows
 * (upserted as a run goes), and the list the setup paths register on a Temporal server, so that
 * `temporal workflow list --query 'Dataset="tickets" AND Stage="canary"'` finds runs.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Dataset name, e.g. `tickets`. */
export const DatasetSearchAttribute = defineSearchAttributeKey('Dataset', SearchAttributeType.KEYWORD);
/** Partition a run processes, YYYY-MM-DD (a Keyword: equality and `IN`, and it sorts as a date). */
export const LogicalDateSearchAttribute = defineSearchAttributeKey('LogicalDate', SearchAttributeType.KEYWORD);
/** Dataset version id the run created or reused. */
export const DatasetVersionSearchAttribute = defineSearchAttributeKey('DatasetVersion', SearchAttributeType.KEYWORD);
/** Model version id of the run's candidate. */
export const ModelVersionSearchAttribute = defineSearchAttributeKey('ModelVersion', SearchAttributeType.KEYWORD);
/** Current stage of the run (the status query's `stage`: ingest, …, canary, done, failed). */
export const StageSearchAttribute = defineSearchAttributeKey('Stage', SearchAttributeType.KEYWORD);
/** Terminal outcome (promoted, first_champion, rolled_back, rejected, unchanged, versioned, evaluated, failed). */
export const OutcomeSearchAttribute = defineSearchAttributeKey('Outcome', SearchAttributeType.KEYWORD);

/** Train mode of the run (`all`, `none`): `TrainMode="none"` finds the runs that only built dataset versions. */
export const TrainModeSearchAttribute = defineSearchAttributeKey('TrainMode', SearchAttributeType.KEYWORD);
/** Deploy mode of the run (`auto`, `never`): `DeployMode="never"` finds backfill runs, which never move traffic. */
export const DeployModeSearchAttribute = defineSearchAttributeKey('DeployMode', SearchAttributeType.KEYWORD);

/** Every custom search attribute, in the order the setup paths register them. */
export const TRAINSET_SEARCH_ATTRIBUTES = [
  DatasetSearchAttribute,
  LogicalDateSearchAttribute,
  DatasetVersionSearchAttribute,
  ModelVersionSearchAttribute,
  StageSearchAttribute,
  OutcomeSearchAttribute,
  TrainModeSearchAttribute,
  DeployModeSearchAttribute,
] as const;

/** How the Temporal CLI spells each SDK search attribute type (`--type Keyword`). */
export const CLI_SEARCH_ATTRIBUTE_TYPE: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};
