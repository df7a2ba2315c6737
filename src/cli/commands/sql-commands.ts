import { Cartridge } from '../../engine/cartridge.js';
import type { CommandRegistrar } from '../program.js';
import { targetOf } from '../targets.js';

/**
 * `sql`: runs SQL on a database inside the cartridge. A statement that returns rows prints
 * them (a table, or JSON with `--json`); any other statement runs in its own SQLite
 * transaction, one journal commit, and prints what it changed. `--at` reads the database as
 * it was at a past position (read-only).
 */
export const registerSqlCommands: CommandRegistrar = (program, context) => {
  program
    .command('sql')
    .description('run SQL on a database inside the cartridge (created if missing)')
    .argument('<cartridge>')
    .argument('<database>', 'the database path inside the cartridge, such as /data/calls.db')
    .argument('<statement>', 'one SQL statement')
    .option('--at <position>', 'query the database as it was (read-only)')
    .action(
      async (
        cartridgePath: string,
        databasePath: string,
        sql: string,
        options: { at?: string },
      ) => {
        const { output, withCartridge } = context();
        await Cartridge.loadSqlite();
        const access = options.at === undefined ? 'write' : 'read';
        withCartridge(cartridgePath, access, (cartridge) => {
          const source =
            options.at === undefined ? cartridge : cartridge.checkout(targetOf(options.at));
          const database = source.openDatabase(databasePath);
          try {
            const statement = database.prepare(sql);
            if (statement.reader) {
              const rows = statement.all() as Record<string, unknown>[];
              output.result(rows, () => {
                const columns = rows[0] === undefined ? [] : Object.keys(rows[0]);
                output.table(
                  columns,
                  rows.map((row) => columns.map((column) => row[column])),
                );
              });
            } else {
              const result = statement.run();
              output.result(result, () => output.line(`${result.changes} rows changed`));
            }
          } finally {
            database.close();
          }
        });
      },
    );
};
