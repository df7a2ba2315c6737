// Runs in a fresh `node` (no tsx) against the package entry built by tools/bundle-engine.mjs:
// imports it, uses a cartridge and a SQLite database through it, and prints one JSON line.
//
//   node test/support/package-entry-child.mjs <entry path> <scratch directory>
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [entryPath, directory] = process.argv.slice(2);
const engine = await import(pathToFileURL(entryPath).href);
const { Cartridge, CartridgeError } = engine;

const path = join(directory, 'entry.cart');
const cartridge = Cartridge.create(path);
cartridge.transaction(() => {
  for (let index = 0; index < 200; index++)
    cartridge.createFile(`/calls/${index}.json`, `${index}`);
});
cartridge.close();
const reopened = Cartridge.open(path);
const content = reopened.readFile('/calls/123.json').toString();
let missingCode = 'no error';
try {
  reopened.readFile('/calls/none.json');
} catch (error) {
  missingCode = error instanceof CartridgeError ? error.code : `foreign ${error}`;
}
await Cartridge.loadSqlite();
const database = reopened.openDatabase('/db/calls.sqlite');
database.exec('CREATE TABLE calls (id INTEGER PRIMARY KEY, agent TEXT)');
database.prepare('INSERT INTO calls (agent) VALUES (?)').run('ada');
const agent = database.prepare('SELECT agent FROM calls WHERE id = 1').get().agent;
database.close();
reopened.close();

process.stdout.write(
  `${JSON.stringify({
    load: engine.engineLoad(),
    exportNames: Object.keys(engine).sort(),
    content,
    missingCode,
    agent,
  })}\n`,
);
