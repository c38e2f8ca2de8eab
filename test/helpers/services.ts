/** Connection settings of the real services that test/global-setup.ts provides (via scripts/services.sh). */
export interface ServiceEnv {
  databaseUrl: string;
  s3: {
    endpoint: string;
    bucket: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
  };
  temporalCliPath: string;
}

/** Names of the variables test/global-setup.ts sets from `.trainset/services.env`. */
export const SERVICE_ENV_VARS = [
  'TEMPORAL_CLI_PATH',
  'DATABASE_URL',
  'S3_ENDPOINT',
  'S3_BUCKET',
  'S3_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'S3_FORCE_PATH_STYLE',
] as const;

function required(env: NodeJS.ProcessEnv, name: (typeof SERVICE_ENV_VARS)[number]): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set: the test services are not provided. Run \`bash scripts/services.sh up\` ` +
        '(vitest runs it from test/global-setup.ts) and check its output.',
    );
  }
  return value;
}

/** Reads the service settings from the environment; throws naming the first missing variable. */
export function serviceEnv(env: NodeJS.ProcessEnv = process.env): ServiceEnv {
  return {
    databaseUrl: required(env, 'DATABASE_URL'),
    s3: {
      endpoint: required(env, 'S3_ENDPOINT'),
      bucket: required(env, 'S3_BUCKET'),
      region: required(env, 'S3_REGION'),
      accessKeyId: required(env, 'AWS_ACCESS_KEY_ID'),
      secretAccessKey: required(env, 'AWS_SECRET_ACCESS_KEY'),
    },
    temporalCliPath: required(env, 'TEMPORAL_CLI_PATH'),
  };
}
