/** The README and docs/*.md link only to files, folders and headings that exist, and name only trainset commands that exist. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program';

const root = path.resolve(__dirname, '../..');
const docFiles = [
  'README.md',
  ...readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The text without fenced code blocks and inline code spans, so examples in code are not read as links or headings. */
function withoutCode(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for each heading of a Markdown text (lower case, punctuation dropped, spaces to hyphens, repeats numbered). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const m of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return anchors;
}

/** Relative links of `file` (a path under `base`) whose file, folder or heading does not exist, as "target (why)". */
export function brokenLinks(base: string, file: string, markdown: string): string[] {
  const broken: string[] = [];
  for (const m of withoutCode(markdown).matchAll(/\]\(([^)\s]+)(?: "[^"]*")?\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: and the like are not checked here
    const [linkPath = '', anchor] = target.split('#', 2);
    const resolved = linkPath === '' ? path.join(base, file) : path.join(base, path.dirname(file), decodeURIComponent(linkPath));
    if (!existsSync(resolved)) {
      broken.push(`${target} (no such file or folder)`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith('.md') && !headingAnchors(readFileSync(resolved, 'utf8')).has(anchor)) {
      broken.push(`${target} (no heading #${anchor})`);
    }
  }
  return broken;
}

describe('docs links', () => {
  it('finds GitHub anchors of headings, not of lines in code blocks', () => {
    const anchors = headingAnchors('# Which runs deploy: train and deploy modes\n```bash\n# a comment\n```\n## Try it\n## Try it\n');
    expect([...anchors]).toEqual(['which-runs-deploy-train-and-deploy-modes', 'try-it', 'try-it-1']);
  });

  it('reports a link to a missing file and to a missing heading, and ignores links in code', () => {
    const text = [
      'See [gate](docs/gate-missing.md) and [try](README.md#no-such-heading) and [ok](README.md#trainset).',
      '`[in code](nowhere.md)` and [web](https://temporal.io).',
    ].join('\n');
    expect(brokenLinks(root, 'README.md', text)).toEqual([
      'docs/gate-missing.md (no such file or folder)',
      'README.md#no-such-heading (no heading #no-such-heading)',
    ]);
  });

  it.each(docFiles)('%s: every relative link resolves', (file) => {
    expect(brokenLinks(root, file, readFileSync(path.join(root, file), 'utf8'))).toEqual([]);
  });

  it('the README links each pipeline stage to its activity file and its domain folder', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Pipeline stages'), readme.indexOf('\n## ', readme.indexOf('## Pipeline stages') + 1));
    const rows = section.split('\n').filter((l) => /^\| [a-zA-Z]/.test(l) && !l.startsWith('| stage'));
    expect(rows.length).toBeGreaterThanOrEqual(10);
    for (const row of rows) {
      expect(row, row).toMatch(/\]\(src\/activities\/[a-z-]+\.ts\)/);
      expect(row, row).toMatch(/\]\(src\/[a-z]+\/\)/);
    }
  });

  it('names only trainset commands that exist', () => {
    const program = buildProgram();
    const named = docFiles.flatMap((file) =>
      [...readFileSync(path.join(root, file), 'utf8').matchAll(/npx trainset ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/g)].map((m) => ({
        file,
        name: m[1]!,
        sub: m[2] ?? '',
      })),
    );
    expect(named.length).toBeGreaterThan(30);
    for (const { file, name, sub } of named) {
      const cmd = program.commands.find((c) => c.name() === name);
      expect(cmd, `${file}: npx trainset ${name}`).toBeDefined();
      if (cmd!.commands.length > 0 && sub) {
        expect(
          cmd!.commands.some((c) => c.name() === sub),
          `${file}: npx trainset ${name} ${sub}`,
        ).toBe(true);
      }
    }
  });
});
