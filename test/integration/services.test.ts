import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client } from 'pg';
import { describe, expect, it } from 'vitest';
import { serviceEnv } from '../helpers/services';

describe('test services provided by scripts/services.sh', () => {
  const services = serviceEnv();

  it('passes the service variables from global setup to the forked test worker', () => {
    expect(services.databaseUrl).toMatch(/^postgres:\/\//);
    expect(services.s3.endpoint).toMatch(/^http:\/\//);
    expect(process.env.S3_FORCE_PATH_STYLE).toBe('true');
  });

  it('answers SQL on the real PostgreSQL', async () => {
    const client = new Client({ connectionString: services.databaseUrl });
    await client.connect();
    try {
      const result = await client.query<{ answer: number; db: string }>('SELECT 41 + 1 AS answer, current_database() AS db');
      expect(result.rows[0]).toEqual({ answer: 42, db: 'trainset' });
    } finally {
      await client.end();
    }
  });

  it('stores and returns an object on the real S3 server', async () => {
    const s3 = new S3Client({
      endpoint: services.s3.endpoint,
      region: services.s3.region,
      forcePathStyle: true,
      credentials: {
        accessKeyId: services.s3.accessKeyId,
        secretAccessKey: services.s3.secretAccessKey,
      },
    });
    const key = `services-test/${randomUUID()}.txt`;
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: services.s3.bucket,
          Key: key,
          Body: 'hello s3',
        }),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: services.s3.bucket, Key: key }));
      expect(await got.Body?.transformToString()).toBe('hello s3');
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: services.s3.bucket, Key: key }));
      s3.destroy();
    }
  });

  it('provides a runnable Temporal CLI', () => {
    const version = execFileSync(services.temporalCliPath, ['--version'], {
      encoding: 'utf8',
    });
    expect(version).toMatch(/^temporal version .*Server 1\.\d+/);
  });
});
