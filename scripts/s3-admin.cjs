// Small S3 admin helper for scripts/services.sh: `health` (ListBuckets) and `ensure-bucket <name>`.
// Reads S3_ENDPOINT, S3_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; path-style addressing.
'use strict';
const { S3Client, ListBucketsCommand, CreateBucketCommand, HeadBucketCommand } = require('@aws-sdk/client-s3');

async function main() {
  const [command, bucket] = process.argv.slice(2);
  const client = new S3Client({
    endpoint: process.env.S3_ENDPOINT,
    region: process.env.S3_REGION || 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
  });
  if (command === 'health') {
    const out = await client.send(new ListBucketsCommand({}));
    console.log((out.Buckets || []).map((b) => b.Name).join('\n'));
  } else if (command === 'ensure-bucket' && bucket) {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch {
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (err) {
        // A concurrent `up` may have created it between the two calls.
        if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes(err && err.name)) throw err;
      }
    }
    console.log(bucket);
  } else {
    console.error('usage: node scripts/s3-admin.cjs health | ensure-bucket <bucket>');
    process.exit(2);
  }
}

main().catch((err) => {
  console.error(`s3-admin: ${(err && err.name) || 'Error'}: ${(err && err.message) || err}`);
  process.exit(1);
});
