// From CommonJS: require() loads the package where Node can require ES modules (20.19+ and
// 22.12+ say so in process.features.require_module), and otherwise fails with a clear
// ERR_REQUIRE_ESM; a dynamic import() works everywhere.
const canRequireEsm = process.features.require_module === true;
let required;
try {
  required = require('cartridge-vfs');
} catch (error) {
  if (canRequireEsm || error.code !== 'ERR_REQUIRE_ESM' || !/ES module/.test(error.message)) {
    throw error;
  }
}
if (canRequireEsm && typeof required.Cartridge !== 'function') throw new Error('require');
import('cartridge-vfs').then(({ Cartridge }) => {
  const cart = Cartridge.memory();
  cart.createFile('/a.txt', 'a');
  if (cart.readFile('/a.txt').toString() !== 'a') throw new Error('content');
  cart.close();
  console.log(`cjs example: ok (require ${required === undefined ? 'refused clearly' : 'works'})`);
});
