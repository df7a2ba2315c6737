/**
 * The demo: create a cartridge file, write a small tree into it, close it, open it again and
 * show what comes back, including the statistics and a full verification of the journal.
 * Then time travel: a live change stream prints every change as it commits, a snapshot names
 * a moment, more changes follow, a diff shows them, a checkout reads the past, and a restore
 * brings it back (as one more commit, so history keeps everything). Then access control and
 * audit, and last tamper evidence: a signed checkpoint, a proof of one audit batch checked
 * without the file, and a copy of the file rewritten by someone without the key, caught.
 */
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cartridge, verifyProof } from '../src/index.js';

const directory = mkdtempSync(join(tmpdir(), 'cartridge-demo-'));
const path = join(directory, 'demo.cart');

const cartridge = Cartridge.create(path, { capacityBlocks: 10_000 });
cartridge.createFile('/readme.txt', 'Hello, Cartridge!');
cartridge.createFile('/config.json', JSON.stringify({ key: 'value' }));
cartridge.createFile('/docs/guide.md', '# Guide\nContent here');
cartridge.createFile('/data/large.dat', Buffer.alloc(1024 * 1024, 42));
cartridge.transaction(() => {
  // One commit in the journal: either all three call records land, or none does.
  for (let index = 0; index < 3; index++) {
    cartridge.createFile(`/calls/2026-11-24/call-${index}.json`, JSON.stringify({ index, agent: 'ada' }));
  }
});
cartridge.appendFile('/readme.txt', '\nAppended line.');
cartridge.writeFile('/config.json', JSON.stringify({ key: 'updated' }));
cartridge.deleteFile('/data/large.dat');
const headBeforeClose = cartridge.head;
cartridge.close();

const reopened = Cartridge.open(path);
console.log(`cartridge: ${path}`);
console.log(`recovery on open: ${reopened.recovery.label} (head ${reopened.head}, was ${headBeforeClose})`);
console.log(`/readme.txt: ${JSON.stringify(reopened.readFile('/readme.txt').toString())}`);
console.log(`/config.json: ${reopened.readFile('/config.json').toString()}`);
console.log(`/ lists: ${reopened.listDir('/').join(', ')}`);
console.log(`/calls/2026-11-24 lists: ${reopened.listDir('/calls/2026-11-24').join(', ')}`);
console.log(`/docs/guide.md metadata: ${JSON.stringify(reopened.metadata('/docs/guide.md'))}`);
const { bufferPool, ...stats } = reopened.stats();
console.log('stats:', stats);
console.log('buffer pool:', bufferPool);
const report = reopened.verify();
console.log(`verify: ok=${report.ok}, ${report.recordsChecked} records, head hash ${report.headHash.slice(0, 16)}…`);

console.log('\n-- time travel --');
// A live change stream: it prints each change once it is committed, after the call returns.
const stream = reopened.changes().subscribe((event) => {
  if (event.type === 'caught-up') console.log('  [stream] caught up, now live');
  else console.log(`  [stream] ${event.type} ${event.path ?? event.name ?? ''} at offset ${event.offset}`);
});
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));
await settle();
const snapshot = reopened.createSnapshot('before-review', 'state before the review edits');
console.log(`snapshot ${snapshot.name} at offset ${snapshot.offset}, ${snapshot.createdAt.toISOString()}`);
reopened.writeFile('/docs/guide.md', '# Guide\nRewritten during review');
reopened.deleteFile('/config.json');
reopened.createFile('/docs/review-notes.md', 'Looks good.');
await settle();
console.log('diff since the snapshot:', reopened.diff('before-review'));
const past = reopened.checkout('before-review');
console.log(`checkout: /docs/guide.md then: ${JSON.stringify(past.readFile('/docs/guide.md').toString())}`);
console.log(`checkout: /docs/guide.md now:  ${JSON.stringify(reopened.readFile('/docs/guide.md').toString())}`);
const restored = reopened.restoreSnapshot('before-review');
await settle();
console.log(`restore: ${restored.changedCount} entries brought back; diff now: ${JSON.stringify(reopened.diff('before-review'))}`);
const versions = reopened.history('/docs/guide.md');
console.log('history of /docs/guide.md:', versions.map((version) => `${version.change}@${version.offset}`).join(' <- '));
stream.unsubscribe();
reopened.close();

console.log('\n-- access control and audit --');
// Every operation of this handle runs as an actor, passes the policy and is audited.
const audited = Cartridge.open(path, { actor: 'supervisor', audit: true });
audited.setPolicy({
  Statement: [
    { Sid: 'Supervisors', Effect: 'Allow', Action: '*', Resource: '/**', Condition: { StringEquals: { 'cartridge:actor': 'supervisor' } } },
    { Sid: 'AgentsReadCalls', Effect: 'Allow', Action: ['Read', 'List'], Resource: ['/calls/**', '/docs/*.md'] },
    { Sid: 'NoConfig', Effect: 'Deny', Action: '*', Resource: '/config.json', Condition: { StringNotEquals: { 'cartridge:actor': 'supervisor' } } },
  ],
});
const agent = audited.as('agent-42');
console.log(`agent-42 reads /docs/guide.md: ${JSON.stringify(agent.readFile('/docs/guide.md').toString())}`);
for (const attempt of [() => agent.readFile('/config.json'), () => agent.writeFile('/docs/guide.md', 'defaced')]) {
  try {
    attempt();
  } catch (error) {
    console.log(`agent-42 refused: ${(error as Error).message}`);
  }
}
console.table(
  audited.audit().map((entry) => ({
    time: entry.time.toISOString().slice(11, 23),
    actor: entry.actor,
    action: entry.action,
    path: entry.path,
    decision: entry.allowed ? 'allowed' : 'denied',
    statement: entry.sid ?? '',
    change: entry.changeOffset ?? '',
  })),
);

console.log('\n-- tamper evidence --');
// The private key stays off the device in real use; only heads and signatures reach the file.
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signedHead = audited.signCheckpoint(privateKey);
console.log(`signed head: ${signedHead.sequence} records, Merkle root ${signedHead.merkleRoot.slice(0, 16)}…`);
const batch = audited.audit({ limit: 1 })[0]?.batch;
if (batch !== undefined) {
  const proof = audited.proveRecord(batch);
  const proven = verifyProof(JSON.parse(JSON.stringify(proof)), publicKey);
  console.log(`proof of the audit batch at ${proven.offset}: ${proof.auditPath.length} hashes, checks without the file`);
}
audited.close();
const levels = (file: string) => {
  const { ok, assurance, code } = Cartridge.verifyFile(file, { publicKey, anchor: signedHead });
  return `ok=${ok}, assurance=${assurance}${code === null ? '' : `, ${code}`}`;
};
console.log(`verify the file: ${levels(path)}`);
// A copy edited in place, as someone with the file but not the key would: one byte of a path.
const copy = join(directory, 'tampered.cart');
copyFileSync(path, copy);
const bytes = readFileSync(copy);
const at = bytes.indexOf('/readme.txt');
bytes[at + 1] = 'R'.charCodeAt(0);
writeFileSync(copy, bytes);
console.log(`verify the tampered copy: ${levels(copy)}`);
