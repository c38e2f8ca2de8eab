import { chmod, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEV_SERVER_ARGS,
  DEV_SERVER_DYNAMIC_CONFIG,
  devServerOptions,
  resolveTemporalCli,
  TemporalCliNotFoundError,
} from '../../src/workers/temporal-binary';

describe('resolveTemporalCli', () => {
  let root: string;
  const fake = async (dir: string): Promise<string> => {
    await mkdir(dir, { recursive: true });
    const path = join(dir, 'temporal');
    await writeFile(path, '#!/bin/sh\necho fake\n');
    await chmod(path, 0o755);
    return path;
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'trainset-cli-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('prefers TEMPORAL_CLI_PATH over PATH and the tools cache', async () => {
    const explicit = await fake(join(root, 'explicit'));
    await fake(join(root, 'onpath'));
    const found = await resolveTemporalCli({
      env: { TEMPORAL_CLI_PATH: explicit, PATH: join(root, 'onpath') },
      toolsDir: join(root, 'tools'),
      build: false,
    });
    expect(found).toBe(explicit);
  });

  it('fails loudly when TEMPORAL_CLI_PATH points at nothing instead of picking another binary', async () => {
    await fake(join(root, 'onpath'));
    await expect(
      resolveTemporalCli({
        env: {
          TEMPORAL_CLI_PATH: join(root, 'missing'),
          PATH: join(root, 'onpath'),
        },
        build: false,
      }),
    ).rejects.toThrow(/TEMPORAL_CLI_PATH=.*missing is not an executable file/);
  });

  it('takes temporal from PATH before the tools cache', async () => {
    const onPath = await fake(join(root, 'onpath'));
    await fake(join(root, 'tools'));
    const found = await resolveTemporalCli({
      env: { PATH: `${join(root, 'empty')}:${join(root, 'onpath')}` },
      toolsDir: join(root, 'tools'),
      build: false,
    });
    expect(found).toBe(onPath);
  });

  it('falls back to the tools cache, from TRAINSET_TOOLS when no toolsDir is given', async () => {
    const cached = await fake(join(root, 'tools'));
    const found = await resolveTemporalCli({
      env: { PATH: join(root, 'empty'), TRAINSET_TOOLS: join(root, 'tools') },
      build: false,
    });
    expect(found).toBe(cached);
  });

  it('throws TemporalCliNotFoundError naming the fix when nothing is found and building is off', async () => {
    const attempt = resolveTemporalCli({
      env: { PATH: join(root, 'empty') },
      toolsDir: join(root, 'tools'),
      build: false,
    });
    await expect(attempt).rejects.toBeInstanceOf(TemporalCliNotFoundError);
    await expect(attempt).rejects.toThrow(/scripts\/services\.sh up/);
  });

  it('reports a failed go install with the reason and says what it was doing', async () => {
    const goDir = join(root, 'go-bin');
    await mkdir(goDir);
    await writeFile(join(goDir, 'go'), '#!/bin/sh\necho "proxy unreachable" >&2\nexit 1\n');
    await chmod(join(goDir, 'go'), 0o755);
    const messages: string[] = [];
    const attempt = resolveTemporalCli({
      env: { PATH: goDir },
      toolsDir: join(root, 'tools'),
      log: (m) => messages.push(m),
    });
    await expect(attempt).rejects.toThrow(/go install github\.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1 failed: proxy unreachable/);
    expect(messages[0]).toMatch(/^building Temporal CLI v1\.5\.1 with go install/);
  });

  it('builds into the tools cache with go install when nothing is found', async () => {
    const goDir = join(root, 'go-bin');
    await mkdir(goDir);
    // A stand-in for go that "installs" into GOBIN, as the real `go install` does.
    await writeFile(join(goDir, 'go'), '#!/bin/sh\nprintf "#!/bin/sh\\n" > "$GOBIN/temporal"\n/bin/chmod +x "$GOBIN/temporal"\n');
    await chmod(join(goDir, 'go'), 0o755);
    await mkdir(join(root, 'tools'));
    const found = await resolveTemporalCli({
      env: { PATH: goDir },
      toolsDir: join(root, 'tools'),
    });
    expect(found).toBe(join(root, 'tools', 'temporal'));
  });
});

describe('DEV_SERVER_ARGS', () => {
  it('passes every DEV_SERVER_DYNAMIC_CONFIG key to the dev server as one --dynamic-config-value key=value pair', () => {
    const pairs: string[] = [];
    for (let i = 0; i < DEV_SERVER_ARGS.length; i += 2) {
      expect(DEV_SERVER_ARGS[i]).toBe('--dynamic-config-value');
      pairs.push(DEV_SERVER_ARGS[i + 1]!);
    }
    expect(pairs).toEqual(Object.entries(DEV_SERVER_DYNAMIC_CONFIG).map(([k, v]) => `${k}=${String(v)}`));
    expect(pairs).toContain('history.transferProcessorMaxPollRPS=1000');
    expect(devServerOptions(undefined).extraArgs).toEqual([...DEV_SERVER_ARGS]);
  });
});
