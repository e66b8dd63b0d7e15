/**
 * A proposal's description (pure): Markdown whose first line is `# Title` (the convention governance
 * front ends such as Tally read), then the body. The governor hashes the whole text into the id.
 */
import { AgoraError } from '../errors.ts';

export function proposalDescription(title: string, body = ''): string {
  const t = title.trim();
  if (!t || t.includes('\n')) {
    throw new AgoraError('GOV_BAD_TITLE', 'a proposal needs a one-line title', {
      hint: 'pass --title "Raise the minimum stake to 250 AGORA"',
    });
  }
  const b = body.trim();
  return b ? `# ${t}\n\n${b}\n` : `# ${t}\n`;
}

export function splitDescription(description: string): { title: string; body: string } {
  const nl = description.indexOf('\n');
  const first = (nl < 0 ? description : description.slice(0, nl)).trim();
  const rest = nl < 0 ? '' : description.slice(nl + 1).trim();
  if (first.startsWith('#')) return { title: first.replace(/^#+\s*/, ''), body: rest };
  return { title: first.slice(0, 80), body: description.trim() };
}
