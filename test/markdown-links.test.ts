/**
 * Every relative link in the repository's Markdown files resolves: the target file exists, and
 * an `#anchor` names a heading of the target (GitHub's slug rules). External links are not
 * fetched (there is no network in CI).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The Markdown files git tracks or would track (untracked but not ignored). */
function markdownFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
    cwd: root,
    encoding: 'utf8',
  });
  return out.split('\n').filter((f) => f !== '' && existsSync(join(root, f)));
}

/** `[text](target)` and `![alt](target)` targets outside code spans and fenced blocks. */
function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const prose = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, title] of prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = title!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

/** The broken links of one file: a missing target file, or an anchor that names no heading. */
function brokenLinks(
  file: string,
  markdown: string,
  exists: (path: string) => boolean,
  read: (path: string) => string,
): string[] {
  const broken: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [path, anchor] = target.split('#', 2) as [string, string | undefined];
    const full = path === '' ? file : join(dirname(file), decodeURIComponent(path));
    if (!exists(full)) {
      broken.push(`${target} (no file ${full})`);
      continue;
    }
    const targetText = () => (path === '' ? markdown : read(full));
    if (anchor !== undefined && full.endsWith('.md') && !headingAnchors(targetText()).has(anchor)) {
      broken.push(`${target} (no heading #${anchor} in ${full})`);
    }
  }
  return broken;
}

describe('Markdown links', () => {
  it('the checker finds a missing file and a missing anchor, and passes good links', () => {
    const md =
      '[ok](doc.md) [ok2](doc.md#two-words) ![img](img.png) ' +
      '[web](https://x.org/y) `[code](nope.md)` [self](#title)\n# Title';
    const files: Record<string, string> = {
      'a/doc.md': '# Title\n\n## Two words\n',
      'a/img.png': '',
      'a/readme.md': md,
    };
    const exists = (p: string) => p in files;
    const read = (p: string) => files[p]!;
    expect(brokenLinks('a/readme.md', md, exists, read)).toEqual([]);
    expect(brokenLinks('a/readme.md', md.replace('# Title', '# Other'), exists, read)).toEqual([
      '#title (no heading #title in a/readme.md)',
    ]);
    expect(
      brokenLinks('a/doc.md', '## Two words\n[x](missing.md) [y](doc.md#nope) [z](#two-words)', exists, read),
    ).toEqual(['missing.md (no file a/missing.md)', 'doc.md#nope (no heading #nope in a/doc.md)']);
    expect(headingAnchors('# The playground\n## What the demo shows\n## A, b & c!\n## A, b & c!')).toEqual(
      new Set(['the-playground', 'what-the-demo-shows', 'a-b--c', 'a-b--c-1']),
    );
  });

  const files = markdownFiles();
  it('covers the README, the package READMEs and the spec', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'packages/tensor/README.md', 'docs/spec/hc-family.md']));
  });

  for (const file of files) {
    it(`every relative link in ${file} resolves`, () => {
      const exists = (p: string) =>
        existsSync(join(root, p)) && (statSync(join(root, p)).isFile() || statSync(join(root, p)).isDirectory());
      const read = (p: string) => readFileSync(join(root, p), 'utf8');
      expect(brokenLinks(file, read(file), exists, read)).toEqual([]);
    });
  }
});
