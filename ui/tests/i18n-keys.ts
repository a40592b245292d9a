// The texts the builder's source asks to translate, read from the source itself: every `t("...")` and
// `t.plural(n, "...", "...")` call (the `t` of `useT()` or of the i18n module). Keys must be literals, or no
// catalog could be checked against them: a call with anything else is reported as such.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export interface KeyUse {
  key: string;
  file: string;
  /** Set for `t.plural`'s forms: the other form of the pair. */
  pluralOf?: string;
}

export interface Scan {
  keys: KeyUse[];
  /** `file: snippet` of calls whose keys are not literals. */
  dynamic: string[];
}

const CALL = /(?<![\w$.])t(\.plural)?\(/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && /\s/.test(text[at])) at += 1;
  return at;
}

/** The string literal starting at `at` (after spaces) and where it ends, or null when there is none. */
export function readLiteral(text: string, start: number): { value: string; end: number } | null {
  const at = skipSpace(text, start);
  const quote = text[at];
  if (quote !== '"' && quote !== "'" && quote !== "`") return null;
  let i = at + 1;
  let raw = "";
  while (i < text.length && text[i] !== quote) {
    if (text[i] === "\\") {
      raw += text.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (quote === "`" && text.startsWith("${", i)) return null; // an interpolated template is no key
    raw += text[i];
    i += 1;
  }
  if (i >= text.length) return null;
  // Same escapes as JSON for what the source uses (\n, \", \\, \uXXXX); a quote of the other kind is plain.
  const json = raw.replace(/\n/g, "\\n").replace(/\\'/g, "'").replace(/\\`/g, "`").replace(/(?<!\\)((?:\\\\)*)"/g, '$1\\"');
  return { value: JSON.parse(`"${json}"`) as string, end: i + 1 };
}

/** Where the argument starting at `at` ends (at its top-level comma or closing parenthesis). */
function skipArgument(text: string, at: number): number {
  let depth = 0;
  for (let i = at; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"' || c === "'" || c === "`") {
      const literal = readLiteral(text, i);
      if (literal) i = literal.end - 1;
    } else if ("([{".includes(c)) depth += 1;
    else if (")]}".includes(c)) {
      if (depth === 0) return i;
      depth -= 1;
    } else if (c === "," && depth === 0) return i;
  }
  return text.length;
}

function expectComma(text: string, at: number): number | null {
  const i = skipSpace(text, at);
  return text[i] === "," ? i + 1 : null;
}

export function scanSource(text: string, file: string): Scan {
  const keys: KeyUse[] = [];
  const dynamic: string[] = [];
  for (const match of text.matchAll(CALL)) {
    const open = (match.index ?? 0) + match[0].length;
    const snippet = `${file}: ${text.slice(match.index, open + 60).split("\n")[0]}`;
    if (!match[1]) {
      const literal = readLiteral(text, open);
      if (literal) keys.push({ key: literal.value, file });
      else dynamic.push(snippet);
      continue;
    }
    const afterCount = expectComma(text, skipArgument(text, open));
    const one = afterCount === null ? null : readLiteral(text, afterCount);
    const afterOne = one && expectComma(text, one.end);
    const other = afterOne ? readLiteral(text, afterOne) : null;
    if (!one || !other) {
      dynamic.push(snippet);
      continue;
    }
    keys.push({ key: one.value, file, pluralOf: other.value }, { key: other.value, file, pluralOf: one.value });
  }
  return { keys, dynamic };
}

/** Every key used under `srcDir`, the i18n module itself left out (its comments show examples). */
export function scanSources(srcDir: string): Scan {
  const all: Scan = { keys: [], dynamic: [] };
  for (const path of sourceFiles(srcDir)) {
    const file = relative(srcDir, path);
    if (file.startsWith("i18n")) continue;
    const found = scanSource(readFileSync(path, "utf8"), file);
    all.keys.push(...found.keys);
    all.dynamic.push(...found.dynamic);
  }
  return all;
}

/** The `{name}` placeholders of a text, sorted. */
export const placeholders = (text: string): string[] => [...new Set([...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))].sort();
