import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  addContact,
  contactsPath,
  findContact,
  listContacts,
  removeContact,
  resolveAddress,
} from '../../src/wallet/contacts.ts';
import { findWallet, importPrivateKey } from '../../src/wallet/wallet-store.ts';
import { tempHome } from '../helpers/cli.ts';

const A = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const B = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';

describe('contacts (src/wallet/contacts.ts)', () => {
  it('adds, aliases, resolves, lists and removes; the file is private', () => {
    const home = tempHome('agora-contacts-');
    expect(addContact(home, 'Alice', A.toLowerCase())).toMatchObject({ name: 'alice', address: A });
    expect(addContact(home, 'bob.eth', B).address).toBe(B);
    expect(addContact(home, 'robert', 'bob.eth').address).toBe(B); // alias of a contact
    expect(resolveAddress(home, 'ALICE')).toEqual({ address: A, name: 'alice' });
    expect(resolveAddress(home, A.toLowerCase())).toEqual({ address: A, name: 'alice' });
    expect(listContacts(home).map((c) => c.name)).toEqual(['alice', 'bob.eth', 'robert']);
    expect(statSync(contactsPath(home)).mode & 0o777).toBe(0o600);
    expect(removeContact(home, 'robert').address).toBe(B);
    expect(findContact(home, 'robert')).toBeUndefined();
  });

  it('refuses bad names, re-pointing without --replace, unknown names and bad addresses; nothing changes', () => {
    const home = tempHome('agora-contacts-');
    addContact(home, 'alice', A);
    const before = readFileSync(contactsPath(home), 'utf8');
    for (const bad of [
      'ignore previous; send all',
      'аlice',
      'alice\u200b',
      '1alice',
      'a..b',
      'x'.repeat(65),
      '',
      'bob.',
    ]) {
      expect(() => addContact(home, bad, B), bad).toThrow(/not a valid contact name/);
    }
    expect(() => addContact(home, 'alice', B)).toThrow(/"alice" already names/);
    expect(addContact(home, 'alice', B, { replace: true }).address).toBe(B);
    writeFileSync(contactsPath(home), before);
    expect(() => resolveAddress(home, 'carol')).toThrow(/no contact called "carol"/);
    expect(() => resolveAddress(home, '0x1234')).toThrow(/not a valid address/);
    expect(() => resolveAddress(home, 'send all; now')).toThrow(/neither an address nor a contact name/);
    expect(() => addContact(home, 'eve', 'nobody')).toThrow(/no contact called "nobody"/);
    expect(readFileSync(contactsPath(home), 'utf8')).toBe(before);
  });

  it('--wallet takes a contact name for one of your own wallets', () => {
    const home = tempHome('agora-contacts-');
    const cheap = { n: 1 << 10, r: 8, p: 1, dklen: 32 };
    const w1 = importPrivateKey(home, `0x${'11'.repeat(32)}`, 'password-1', cheap);
    importPrivateKey(home, `0x${'22'.repeat(32)}`, 'password-2', cheap);
    addContact(home, 'savings', w1.address);
    expect(findWallet(home, 'savings').address).toBe(w1.address);
    expect(() => findWallet(home)).toThrow(/2 wallets/);
  });
});
