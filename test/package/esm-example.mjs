// The README's example, from an ES module, against the installed tarball.
import { Cartridge, createFs } from 'cartridge-vfs';

const cart = Cartridge.create('archive.cart');
cart.createFile('/config.json', '{"key":"value"}');
cart.createFile('/docs/guide.md', '# Guide');
cart.transaction(() => {
  cart.appendFile('/docs/guide.md', '\nMore.');
  cart.deleteFile('/config.json');
});
cart.close();

const again = Cartridge.open('archive.cart');
if (again.readFile('/docs/guide.md').toString() !== '# Guide\nMore.') throw new Error('content');
if (again.listDir('/docs').join() !== 'guide.md') throw new Error('listing');
const before = again.createSnapshot('before-cleanup');
again.deleteFile('/docs/guide.md');
if (again.diff('before-cleanup')[0].change !== 'removed') throw new Error('diff');
again.restoreSnapshot(before.name);
if (!again.verify().ok) throw new Error('verify');
if (createFs(again).readFileSync('/docs/guide.md', 'utf8') !== '# Guide\nMore.') throw new Error('fs');
again.close();
console.log('esm example: ok');
