import { readFileSync } from 'node:fs';
import type { AuditQuery } from '../../engine/audit-query.js';
import type { AuditAction } from '../../journal/journal-event.js';
import type { CommandRegistrar } from '../program.js';
import { targetOf } from '../targets.js';

/** Commands for access control and the audit trail: `policy show|set`, `audit`. */

export const registerAccessCommands: CommandRegistrar = (program, context) => {
  const policy = program.command('policy').description('the access policy stored in the cartridge');
  policy
    .command('show')
    .description('print the policy (null when there is none: everything is allowed)')
    .argument('<cartridge>')
    .action((cartridgePath: string) => {
      const { output, withCartridge } = context();
      withCartridge(cartridgePath, 'read', (cartridge) => {
        const document = cartridge.policy();
        output.result(document, () => output.line(JSON.stringify(document, null, 2)));
      });
    });
  policy
    .command('set')
    .description("store a policy from a JSON file ('none' removes it)")
    .argument('<cartridge>')
    .argument('<file>', "a JSON policy document, or 'none'")
    .action((cartridgePath: string, file: string) => {
      const { output, withCartridge } = context();
      const document: unknown = file === 'none' ? null : JSON.parse(readFileSync(file, 'utf8'));
      withCartridge(cartridgePath, 'write', (cartridge) => {
        cartridge.setPolicy(document);
        output.result({ set: document !== null, head: cartridge.head }, () =>
          output.line(document === null ? 'policy removed' : 'policy set'),
        );
      });
    });

  program
    .command('audit')
    .description('the audit trail: who did what, allowed or denied')
    .argument('<cartridge>')
    .option('--actor <name>', 'only this actor')
    .option('--path <glob>', 'only paths matching this glob')
    .option('--action <action>', 'Read, Write, Create, Delete, List or All')
    .option('--decision <decision>', "'allowed' or 'denied'")
    .option('--from <position>', 'an offset or a date')
    .option('--to <position>', 'an offset or a date')
    .option('--limit <count>', 'at most this many entries', (value) => Number.parseInt(value, 10))
    .option('--newest', 'the newest entries first')
    .action(
      (
        cartridgePath: string,
        options: {
          actor?: string;
          path?: string;
          action?: string;
          decision?: 'allowed' | 'denied';
          from?: string;
          to?: string;
          limit?: number;
          newest?: boolean;
        },
      ) => {
        const { output, withCartridge } = context();
        const position = (text: string | undefined) => {
          if (text === undefined) return undefined;
          const target = targetOf(text);
          return typeof target === 'string' ? Number.NaN : target;
        };
        const query: AuditQuery = {
          ...(options.actor === undefined ? {} : { actor: options.actor }),
          ...(options.path === undefined ? {} : { path: options.path }),
          ...(options.action === undefined ? {} : { action: options.action as AuditAction }),
          ...(options.decision === undefined ? {} : { decision: options.decision }),
          ...(options.from === undefined ? {} : { from: position(options.from) as number | Date }),
          ...(options.to === undefined ? {} : { to: position(options.to) as number | Date }),
          ...(options.limit === undefined ? {} : { limit: options.limit }),
          ...(options.newest === true ? { order: 'newest' as const } : {}),
        };
        withCartridge(cartridgePath, 'read', (cartridge) => {
          const records = cartridge.audit(query);
          output.result(records, () =>
            output.table(
              ['time', 'actor', 'action', 'path', 'decision', 'statement'],
              records.map((record) => [
                record.time,
                record.actor,
                record.action,
                record.path,
                record.allowed ? 'allowed' : 'denied',
                record.sid,
              ]),
            ),
          );
        });
      },
    );
};
