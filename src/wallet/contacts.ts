/**
 * Contacts: names people use instead of addresses, stored in `<home>/contacts.json`.
 *
 * A name is 1–64 characters of lower-case letters, digits, "-", "_" and "." that starts with a letter
 * ("alice", "bob.eth", "lab-3.agora"): ENS-like, case-insensitive, never hex, never anything a
 * terminal or a model prompt could misread. `resolveAddress` is the one function every command that
 * takes an address calls: a 0x address (checksummed on the way), or a contact name.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Address, getAddress, isAddress } from 'viem';
import { z } from 'zod';
import { AgoraError } from '../errors.ts';

export type Contact = { name: string; address: Address; addedAt: string };
export type Resolved = { address: Address; name?: string };

const NAME_RE = /^[a-z][a-z0-9_.-]{0,63}$/;
const fileSchema = z.object({
  version: z.literal(1),
  contacts: z.array(z.object({ name: z.string(), address: z.string(), addedAt: z.string() })),
});

export function contactsPath(home: string): string {
  return join(home, 'contacts.json');
}

/** Normalizes and checks a contact name; throws a clear error for anything else. */
export function normalizeContactName(name: string): string {
  const n = String(name).trim().toLowerCase();
  if (!NAME_RE.test(n) || n.includes('..') || n.endsWith('.')) {
    const shown = JSON.stringify(String(name).slice(0, 80));
    throw new AgoraError('CONTACT_BAD_NAME', `${shown} is not a valid contact name`, {
      hint: 'use 1–64 letters, digits, "-", "_" or "." starting with a letter (e.g. alice, bob.eth, lab-3)',
    });
  }
  return n;
}

export function listContacts(home: string): Contact[] {
  const path = contactsPath(home);
  if (!existsSync(path)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new AgoraError('CONTACTS_CORRUPT', `${path} is not valid JSON`, {
      hint: 'fix or remove the file (it only holds names → addresses)',
      cause: e,
    });
  }
  const r = fileSchema.safeParse(parsed);
  if (!r.success) {
    throw new AgoraError('CONTACTS_CORRUPT', `${path} is malformed: ${r.error.issues[0]?.message}`, {
      hint: 'fix or remove the file',
    });
  }
  return r.data.contacts
    .filter((c) => NAME_RE.test(c.name) && isAddress(c.address))
    .map((c) => ({ name: c.name, address: getAddress(c.address), addedAt: c.addedAt }));
}

function writeContacts(home: string, contacts: Contact[]): void {
  const path = contactsPath(home);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const sorted = [...contacts].sort((a, b) => a.name.localeCompare(b.name));
  writeFileSync(tmp, `${JSON.stringify({ version: 1, contacts: sorted }, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The contact called `name`, or undefined. */
export function findContact(home: string, name: string): Contact | undefined {
  let n: string;
  try {
    n = normalizeContactName(name);
  } catch {
    return undefined;
  }
  return listContacts(home).find((c) => c.name === n);
}

/**
 * Adds `name` → `target` (a 0x address, or an existing contact's name: an alias). Re-adding the same
 * pair is a no-op; pointing an existing name elsewhere needs `replace`.
 */
export function addContact(
  home: string,
  name: string,
  target: string,
  opts: { replace?: boolean } = {},
): Contact {
  const n = normalizeContactName(name);
  if (isAddress(n)) throw new AgoraError('CONTACT_BAD_NAME', 'a contact name cannot be an address');
  const { address } = resolveAddress(home, target);
  const contacts = listContacts(home);
  const existing = contacts.find((c) => c.name === n);
  if (existing) {
    if (existing.address === address) return existing;
    if (!opts.replace) {
      throw new AgoraError('CONTACT_EXISTS', `"${n}" already names ${existing.address}`, {
        hint: `remove it first (\`agora contacts remove ${n}\`) or pass --replace; nothing was changed`,
      });
    }
  }
  const contact: Contact = { name: n, address, addedAt: new Date().toISOString() };
  writeContacts(home, [...contacts.filter((c) => c.name !== n), contact]);
  return contact;
}

/** Removes `name`; returns the removed contact (error when there is none). */
export function removeContact(home: string, name: string): Contact {
  const n = normalizeContactName(name);
  const contacts = listContacts(home);
  const existing = contacts.find((c) => c.name === n);
  if (!existing) {
    throw new AgoraError('CONTACT_UNKNOWN', `no contact called "${n}"`, {
      hint: 'see `agora contacts list`',
    });
  }
  writeContacts(
    home,
    contacts.filter((c) => c.name !== n),
  );
  return existing;
}

/** Contact names that point at `address` (for showing "alice (0x…)"). */
export function namesOf(home: string, address: Address): string[] {
  return listContacts(home)
    .filter((c) => c.address === getAddress(address))
    .map((c) => c.name);
}

/**
 * A 0x address (checked, checksummed) or a contact name → the address. The one resolver every
 * command that takes an address uses.
 */
export function resolveAddress(home: string, nameOrAddress: string): Resolved {
  const s = String(nameOrAddress ?? '').trim();
  if (/^0x/i.test(s)) {
    if (!isAddress(s, { strict: false })) {
      throw new AgoraError('BAD_ADDRESS', `"${s.slice(0, 80)}" is not a valid address`, {
        hint: 'an address is 0x followed by 40 hex digits',
      });
    }
    const address = getAddress(s);
    return { address, name: namesOf(home, address)[0] };
  }
  let n: string;
  try {
    n = normalizeContactName(s);
  } catch {
    throw new AgoraError(
      'BAD_ADDRESS',
      `${JSON.stringify(s.slice(0, 80))} is neither an address nor a contact name`,
      { hint: 'use a 0x address or a name from `agora contacts list`' },
    );
  }
  const c = listContacts(home).find((x) => x.name === n);
  if (!c) {
    throw new AgoraError('CONTACT_UNKNOWN', `no contact called "${n}"`, {
      hint: `add one with \`agora contacts add ${n} 0x…\` (see \`agora contacts list\`)`,
    });
  }
  return { address: c.address, name: c.name };
}

/** "alice (0x1234…abcd)" or the bare address. */
export function labelOf(r: Resolved): string {
  return r.name ? `${r.name} (${r.address})` : r.address;
}
