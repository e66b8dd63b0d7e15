/** `agora contacts add|list|remove`: names instead of addresses (src/wallet/contacts.ts). */
import type { Command } from 'commander';
import { addContact, listContacts, removeContact } from '../../wallet/contacts.ts';
import type { CliContext } from '../context.ts';

type Ctx = (cmd: Command) => CliContext;

export function registerContactsCommands(program: Command, ctx: Ctx): void {
  const contacts = program
    .command('contacts')
    .description('names for addresses: every command that takes an address also takes a contact name');

  contacts
    .command('add')
    .argument('<name>', 'a name: letters, digits, "-", "_", "." (e.g. alice, bob.eth)')
    .argument('<address>', '0x address, or the name of an existing contact')
    .option('--replace', 'point an existing name at a new address')
    .description('add a contact')
    .action(async (name: string, address: string, o: { replace?: boolean }, cmd: Command) => {
      const c = ctx(cmd);
      const contact = addContact(c.home, name, address, { replace: o.replace });
      c.out.result(contact, () => `${contact.name} → ${contact.address}`);
    });

  contacts
    .command('list')
    .description('list contacts')
    .action(async (_o, cmd: Command) => {
      const c = ctx(cmd);
      const list = listContacts(c.home);
      c.out.result({ contacts: list }, () =>
        list.length === 0
          ? 'no contacts yet (add one with `agora contacts add NAME 0x…`)'
          : list.map((x) => `${x.name.padEnd(20)} ${x.address}`).join('\n'),
      );
    });

  contacts
    .command('remove')
    .argument('<name>', 'contact name')
    .description('remove a contact')
    .action(async (name: string, _o, cmd: Command) => {
      const c = ctx(cmd);
      const removed = removeContact(c.home, name);
      c.out.result({ removed }, () => `removed ${removed.name} (${removed.address})`);
    });
}
