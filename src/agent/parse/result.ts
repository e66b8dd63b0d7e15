/**
 * What a parse returns: one tool call whose args satisfy the catalogue, or a question to ask the user.
 */
import type { ToolName } from '../catalogue.ts';
import type { Ctx } from './context.ts';

export type ParseResult = { tool: ToolName; args: Record<string, unknown> } | { clarify: string };

export type Rule = (ctx: Ctx) => ParseResult | undefined;

export function call(tool: ToolName, args: Record<string, unknown> = {}): ParseResult {
  return { tool, args };
}

export function clarify(question: string): ParseResult {
  return { clarify: question };
}

export function isClarify(r: ParseResult): r is { clarify: string } {
  return 'clarify' in r;
}
