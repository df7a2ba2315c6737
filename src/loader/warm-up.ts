import type * as PublicApi from '../index.js';

/**
 * The work the code cache is made from: what an application does in its first moments with
 * a cartridge (create, write in transactions, close, open an existing file, look files up,
 * list, use the fs facade), on a scratch file, so that the functions on those paths are
 * compiled when the cache is written and not in the first moments of every later process.
 * Functions it does not reach are compiled lazily, as before; nothing depends on its coverage
 * but speed.
 */

export type Engine = typeof PublicApi;

/** Enough files for an index of more than one level, so open descends through inner pages. */
const FILE_COUNT = 5000;
const FILES_PER_DIRECTORY = 100;
const LOOKUP_COUNT = 400;

function filePath(index: number): string {
  return `/calls/d${Math.floor(index / FILES_PER_DIRECTORY)}/call-${index}.json`;
}

function fileContent(index: number): string {
  return JSON.stringify({ call: index, agent: `agent-${index % 37}`, seconds: index % 600 });
}

/** Runs the warm-up on a cartridge at `path` (which must not exist); leaves the file there. */
export function warmUp(engine: Engine, path: string): void {
  const { Cartridge, createFs } = engine;
  const created = Cartridge.create(path);
  for (let first = 0; first < FILE_COUNT; first += 1000) {
    created.transaction(() => {
      for (let index = first; index < first + 1000; index++) {
        created.createFile(filePath(index), fileContent(index));
      }
    });
  }
  created.createFile('/blobs/large.bin', Buffer.alloc(256 * 1024, 7));
  created.createFile('/logs/audit.log', '');
  for (let line = 0; line < 50; line++) created.appendFile('/logs/audit.log', `line ${line}\n`);
  created.close();

  const opened = Cartridge.open(path);
  opened.stats();
  let state = 1;
  for (let lookup = 0; lookup < LOOKUP_COUNT; lookup++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    opened.readFile(filePath(state % FILE_COUNT));
  }
  opened.listDir('/calls/d7');
  opened.exists('/calls/d7/call-700.json');
  opened.metadata('/calls/d7/call-700.json');
  opened.readFile('/blobs/large.bin');
  opened.readFile('/logs/audit.log');
  const fs = createFs(opened);
  fs.readFileSync('/calls/d8/call-800.json', 'utf8');
  fs.statSync('/calls/d8');
  fs.readdirSync('/calls/d8');
  opened.writeFile('/calls/d9/call-900.json', fileContent(900));
  opened.deleteFile('/calls/d9/call-901.json');
  opened.rename('/calls/d9/call-902.json', '/calls/d9/renamed.json');
  opened.close();
}
