import type { BlobStore } from './blob-store';
import { createFsBlobStore, type FsBlobStoreOptions } from './fs-blob-store';
import { createS3BlobStore, type S3BlobStoreConfig } from './s3-blob-store';

export { BlobNotFoundError, type BlobInfo, type BlobStore } from './blob-store';
export { InvalidBlobKeyError, assertValidBlobKey } from './blob-key';
export { FsBlobStore, createFsBlobStore, type FsBlobStoreOptions } from './fs-blob-store';
export { S3BlobStore, createS3BlobStore, type S3BlobStoreConfig } from './s3-blob-store';

/** Which blob store to build: a local folder (embedded default) or an S3 bucket (production). */
export type BlobStoreConfig = ({ kind: 'fs'; dir: string } & FsBlobStoreOptions) | ({ kind: 's3' } & S3BlobStoreConfig);

/** Builds the blob store the config names. */
export function createBlobStore(config: BlobStoreConfig): BlobStore {
  switch (config.kind) {
    case 'fs':
      return createFsBlobStore(config.dir, { fsync: config.fsync });
    case 's3':
      return createS3BlobStore(config);
  }
}
