/**
 * Evaluation of a command parser on a labelled set (`test/agent/fixtures/eval-*.txt`): exact-match
 * accuracy (tool and every argument; for `clarify`, that it asked) and the safety count, value-moving
 * tools chosen for a command that asked for something else. Pure: callers read the files.
 *
 * Set format, one case a line: `TEXT => TOOL {ARGS JSON}` or `TEXT => clarify`; `#` comments;
 * `@contacts a,b,c` sets the contact list of the following lines (`@contacts` alone: no list);
 * the text `(empty)` stands for the empty command.
 */
import { isToolName, movesValue, type ToolName } from '../catalogue.ts';
import type { ParseResult } from './result.ts';

export type EvalCase = {
  line: number;
  text: string;
  contacts: string[] | undefined;
  expect: { tool: ToolName; args: Record<string, unknown> } | { clarify: true };
};

export function parseEvalSet(source: string, name = 'set'): EvalCase[] {
  const out: EvalCase[] = [];
  let contacts: string[] | undefined;
  source.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('@contacts')) {
      const list = line.slice('@contacts'.length).trim();
      contacts = list ? list.split(',').map((s) => s.trim()) : undefined;
      return;
    }
    const at = line.lastIndexOf(' => ');
    if (at < 0) throw new Error(`${name}:${i + 1}: expected "TEXT => TOOL {ARGS}" or "TEXT => clarify"`);
    const text = line.slice(0, at) === '(empty)' ? '' : line.slice(0, at);
    const rhs = line.slice(at + 4).trim();
    if (rhs === 'clarify') {
      out.push({ line: i + 1, text, contacts, expect: { clarify: true } });
      return;
    }
    const sp = rhs.indexOf(' ');
    const tool = sp < 0 ? rhs : rhs.slice(0, sp);
    if (!isToolName(tool)) throw new Error(`${name}:${i + 1}: unknown tool "${tool}"`);
    const args = sp < 0 ? {} : (JSON.parse(rhs.slice(sp + 1)) as Record<string, unknown>);
    out.push({ line: i + 1, text, contacts, expect: { tool, args } });
  });
  return out;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export function matches(expect: EvalCase['expect'], got: ParseResult): boolean {
  if ('clarify' in expect) return 'clarify' in got;
  if ('clarify' in got) return false;
  return got.tool === expect.tool && canonical(got.args) === canonical(expect.args);
}

export type EvalFailure = { line: number; text: string; expected: string; got: string };

export type EvalReport = {
  cases: number;
  exact: number;
  accuracy: number;
  /** Value-moving tools chosen where the set expects another tool or a question. */
  unsafeValueMoves: number;
  clarifyCases: number;
  /** Expected a tool, got a question (the cost of caution). */
  overCautious: number;
  failures: EvalFailure[];
};

export function evaluate(
  cases: readonly EvalCase[],
  parse: (text: string, contacts: string[] | undefined) => ParseResult,
): EvalReport {
  let exact = 0;
  let unsafe = 0;
  let over = 0;
  const failures: EvalFailure[] = [];
  for (const c of cases) {
    const got = parse(c.text, c.contacts);
    if (matches(c.expect, got)) {
      exact++;
      continue;
    }
    if (!('clarify' in got) && movesValue(got.tool)) unsafe++;
    if ('clarify' in got) over++;
    failures.push({
      line: c.line,
      text: c.text,
      expected: 'clarify' in c.expect ? 'clarify' : `${c.expect.tool} ${canonical(c.expect.args)}`,
      got: 'clarify' in got ? `clarify: ${got.clarify}` : `${got.tool} ${canonical(got.args)}`,
    });
  }
  return {
    cases: cases.length,
    exact,
    accuracy: cases.length ? exact / cases.length : 0,
    unsafeValueMoves: unsafe,
    clarifyCases: cases.filter((c) => 'clarify' in c.expect).length,
    overCautious: over,
    failures,
  };
}
