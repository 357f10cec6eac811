// Every relative link in README.md and docs/*.md leads somewhere: the file
// exists, and a #fragment names a heading of the target as GitHub slugs it.
// A reader who follows a dead link learns nothing; this keeps moves and
// renames from leaving any behind.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(__dirname, '..', '..');

const pages = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(ROOT, 'docs', name)),
];

/** Markdown without fenced code blocks and inline code, where links are not links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** The targets of inline links and images, `[text](target "title")`, and of reference definitions. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]);
  const references = [...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm)].map((m) => m[1]);
  return [...inline, ...references];
}

function isRelative(target: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith('//');
}

/** GitHub's heading anchor: lower case, punctuation dropped (hyphens and underscores kept), spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]*>/g, '')
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a markdown file's headings, numbered -1, -2 ... when a slug repeats, as GitHub does. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const withoutFences = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of withoutFences.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    // Link text and inline code keep their words in the anchor, not their markup.
    const text = match[1].replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
    const base = slug(text);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    out.add(count === 0 ? base : `${base}-${count}`);
  }
  for (const match of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(match[1]);
  return out;
}

function brokenLinks(page: string): string[] {
  const broken: string[] = [];
  for (const target of linkTargets(readFileSync(page, 'utf8'))) {
    if (!isRelative(target)) continue;
    const [pathPart, fragment] = target.split('#', 2);
    const file = pathPart === '' ? page : resolve(dirname(page), decodeURIComponent(pathPart));
    if (!existsSync(file)) {
      broken.push(`${target}: no file ${relative(ROOT, file)}`);
      continue;
    }
    if (fragment === undefined || fragment === '' || !file.endsWith('.md') || statSync(file).isDirectory()) continue;
    if (!anchors(readFileSync(file, 'utf8')).has(decodeURIComponent(fragment).toLowerCase())) {
      broken.push(`${target}: no heading #${fragment} in ${relative(ROOT, file)}`);
    }
  }
  return broken;
}

describe('relative links in README.md and docs/', () => {
  it('slugs headings the way GitHub does', () => {
    assert.equal(slug('Redis keys (shared with the gem)'), 'redis-keys-shared-with-the-gem');
    assert.equal(slug('faye-online migrate --dry-run'), 'faye-online-migrate---dry-run');
    assert.equal(slug('What `user_list` means: 1.2'), 'what-user_list-means-12');
  });

  it('finds the page set and its links', () => {
    assert.ok(pages.length > 2, 'README.md and several docs pages');
    assert.deepEqual(linkTargets('see [a](b.md#c) and ![i](x.png "t")\n```\n[no](skip.md)\n```\n[r]: d.md'), [
      'b.md#c',
      'x.png',
      'd.md',
    ]);
  });

  for (const page of pages) {
    it(`${relative(ROOT, page)} links only to files and headings that exist`, () => {
      assert.deepEqual(brokenLinks(page), []);
    });
  }
});
