/**
 * Citations in code comments and test titles must point at this repository's own docs, so readers
 * can check them: no citation of the team's private notes (by folder, by the notes' file names, or
 * by their bare section numbers), and every `docs/<page>.md#<anchor>` must name an existing page and
 * a heading in it. Every file under src/, test/ and bench/ is scanned, this one included; every
 * offender is reported at once as `file:line: text`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCANNED_DIRS = ['src', 'test', 'bench'];
const SOURCE_EXTENSIONS = /\.(?:[cm]?ts|[cm]?js|tsx|jsx)$/;
/** Call names whose first argument is a test title. */
const TITLE_CALLS = new Set(['describe', 'it', 'test', 'suite', 'bench']);

/** Ways of citing the notes outside the repository; built from parts so this file never cites them. */
const FORBIDDEN: readonly { readonly pattern: RegExp; readonly why: string }[] = [
  { pattern: new RegExp(['research', '/'].join('')), why: 'cites the research notes folder' },
  { pattern: new RegExp(['\\.\\.', '/shared'].join('')), why: 'cites the shared folder outside the repository' },
  {
    pattern: new RegExp(`(?<!docs/)\\b(?:${['genie', 'qnn-abi', 'fastvlm', 'npm-probe', 'design'].join('|')})\\.md\\b`),
    why: 'cites a notes file (cite docs/<page>.md#<anchor> instead)',
  },
  { pattern: new RegExp(String.fromCharCode(0xa7)), why: 'cites a section number of the notes (cite docs/<page>.md#<anchor> instead)' },
];

/** `docs/<page>.md` with an optional `#anchor`. */
const DOC_CITATION = /docs\/([\w.-]+\.md)(?:#([\w-]+))?/g;

interface Text {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') files.push(...sourceFiles(path));
    } else if (SOURCE_EXTENSIONS.test(entry.name)) {
      files.push(path);
    }
  }
  return files.sort();
}

function titleCallName(callee: ts.Expression): string | undefined {
  let node: ts.Expression = callee;
  for (;;) {
    if (ts.isIdentifier(node)) return node.text;
    if (ts.isPropertyAccessExpression(node)) node = node.expression;
    else if (ts.isCallExpression(node)) node = node.expression;
    else if (ts.isTaggedTemplateExpression(node)) node = node.tag;
    else return undefined;
  }
}

/** The comments and test titles of one file, one entry per line. */
function citableTexts(path: string): Text[] {
  const file = relative(ROOT, path);
  const source = readFileSync(path, 'utf8');
  const sourceFile = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, true);
  const pieces = new Map<number, string>();
  const addComments = (ranges: ts.CommentRange[] | undefined): void => {
    for (const range of ranges ?? []) pieces.set(range.pos, source.slice(range.pos, range.end));
  };
  const visit = (node: ts.Node): void => {
    addComments(ts.getLeadingCommentRanges(source, node.getFullStart()));
    addComments(ts.getTrailingCommentRanges(source, node.getEnd()));
    if (ts.isCallExpression(node)) {
      const name = titleCallName(node.expression);
      const title = node.arguments[0];
      if (name !== undefined && TITLE_CALLS.has(name) && title !== undefined) {
        if (ts.isStringLiteral(title) || ts.isNoSubstitutionTemplateLiteral(title) || ts.isTemplateExpression(title)) {
          pieces.set(title.getStart(sourceFile), title.getText(sourceFile));
        }
      }
    }
    for (const child of node.getChildren(sourceFile)) visit(child);
  };
  visit(sourceFile);
  const texts: Text[] = [];
  for (const [pos, piece] of pieces) {
    const first = sourceFile.getLineAndCharacterOfPosition(pos).line + 1;
    piece.split('\n').forEach((text, i) => texts.push({ file, line: first + i, text: text.trim() }));
  }
  return texts.sort((a, b) => a.line - b.line);
}

/**
 * GitHub-style heading slug: lowercase, punctuation dropped except '-' (and '_', which GitHub keeps as
 * a word character), each space to '-'.
 */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\s-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a markdown page's headings (outside code fences), duplicates numbered like GitHub. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading === null) continue;
    const base = slug(heading[1]);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

const docAnchors = new Map<string, Set<string> | null>();
function anchorsOf(page: string): Set<string> | null {
  if (!docAnchors.has(page)) {
    const path = join(ROOT, 'docs', page);
    docAnchors.set(page, existsSync(path) ? anchors(readFileSync(path, 'utf8')) : null);
  }
  return docAnchors.get(page)!;
}

const TEXTS = SCANNED_DIRS.flatMap((dir) => sourceFiles(join(ROOT, dir))).flatMap(citableTexts);
const where = (t: Text): string => `${t.file}:${t.line}: ${t.text}`;

describe('code citations', () => {
  it('scans the source, test and bench files', () => {
    expect(TEXTS.some((t) => t.file.startsWith('src'))).toBe(true);
    expect(TEXTS.some((t) => t.file.startsWith('test'))).toBe(true);
  });

  it('cite no notes outside the repository', () => {
    const offenders = TEXTS.flatMap((t) => {
      const whys = FORBIDDEN.filter(({ pattern }) => pattern.test(t.text)).map(({ why }) => why);
      return whys.length === 0 ? [] : [`${where(t)}  <- ${whys.join('; ')}`];
    });
    expect(offenders, `${offenders.length} line(s) cite notes outside the repository`).toEqual([]);
  });

  it('cite docs pages and anchors that exist', () => {
    const offenders: string[] = [];
    for (const t of TEXTS) {
      for (const [, page, anchor] of t.text.matchAll(DOC_CITATION)) {
        const pageAnchors = anchorsOf(page);
        if (pageAnchors === null) offenders.push(`${where(t)}  <- docs/${page} does not exist`);
        else if (anchor !== undefined && !pageAnchors.has(anchor)) {
          offenders.push(`${where(t)}  <- docs/${page} has no heading with anchor #${anchor}`);
        }
      }
    }
    expect(offenders, `${offenders.length} unresolved docs citation(s)`).toEqual([]);
  });
});

describe('docs pages', () => {
  it('link to pages and anchors that exist', () => {
    const docsDir = join(ROOT, 'docs');
    const offenders: string[] = [];
    for (const page of readdirSync(docsDir).filter((name) => name.endsWith('.md')).sort()) {
      const lines = readFileSync(join(docsDir, page), 'utf8').split('\n');
      lines.forEach((line, i) => {
        for (const [, target, anchor] of line.matchAll(/\]\(([\w.-]*\.md)?(?:#([\w-]+))?\)/g)) {
          const linked = target ?? page;
          const linkedAnchors = anchorsOf(linked);
          if (linkedAnchors === null) offenders.push(`docs/${page}:${i + 1}: ${linked} does not exist`);
          else if (anchor !== undefined && !linkedAnchors.has(anchor)) {
            offenders.push(`docs/${page}:${i + 1}: ${linked} has no heading with anchor #${anchor}`);
          }
        }
      });
    }
    expect(offenders, `${offenders.length} broken link(s) between docs pages`).toEqual([]);
  });

  it('slug headings like GitHub', () => {
    expect(slug('KV cache: smart mask')).toBe('kv-cache-smart-mask');
    expect(slug('`Qnn_Tensor_t` layout (V1/V2)')).toBe('qnn_tensor_t-layout-v1v2');
    expect(slug('Priority, SoC models and HTP arch')).toBe('priority-soc-models-and-htp-arch');
    expect(slug('genie-t2t-run flags')).toBe('genie-t2t-run-flags');
  });
});
