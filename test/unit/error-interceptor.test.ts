/** The activity interceptor that fails an activity throwing a TrainsetError with the ApplicationFailure it describes. */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import { InputFileError } from '../../src/ingest/readers';
import { ErrorType, TrainsetError } from '../../src/shared/errors';
import { trainsetErrorInterceptors } from '../../src/workers/error-interceptor';

/** What an activity that throws `err` fails with on a worker that registers the interceptor. */
async function failureOf(err: unknown): Promise<unknown> {
  const env = new MockActivityEnvironment(undefined, { interceptors: [trainsetErrorInterceptors] });
  return env
    .run(async () => {
      throw err;
    })
    .then(
      () => expect.fail('the activity succeeded'),
      (e: unknown) => e,
    );
}

describe('trainsetErrorInterceptors', () => {
  it('fails a TrainsetError as an ApplicationFailure with its message, type and nonRetryable', async () => {
    const failure = await failureOf(new InputFileError('raw/t/2024-01-01/a.jsonl.gz', 'corrupt_gzip', 'not a valid gzip stream'));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({
      message: 'input file raw/t/2024-01-01/a.jsonl.gz: not a valid gzip stream',
      type: ErrorType.InputFileUnreadable,
      nonRetryable: true,
    });
    expect((failure as ApplicationFailure).cause).toBeUndefined(); // none added: the failure reads as before the interceptor
  });

  it('keeps a retryable TrainsetError retryable, and passes its cause on', async () => {
    const cause = new Error('the underlying problem');
    const failure = await failureOf(new TrainsetError('retry me', { type: ErrorType.InvalidSpec, nonRetryable: false, cause }));
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ message: 'retry me', type: ErrorType.InvalidSpec, nonRetryable: false });
    expect((failure as ApplicationFailure).cause?.message).toBe('the underlying problem');
  });

  it('lets plain errors, ApplicationFailures and CancelledFailure through untouched', async () => {
    const plain = new Error('transient');
    const application = ApplicationFailure.nonRetryable('already typed', ErrorType.QualityGateFailed);
    const cancelled = new CancelledFailure('training cancelled');
    expect(await failureOf(plain)).toBe(plain);
    expect(await failureOf(application)).toBe(application);
    expect(await failureOf(cancelled)).toBe(cancelled);
  });
});
