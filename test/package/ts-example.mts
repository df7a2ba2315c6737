// Type-checks against the installed declarations under moduleResolution node16 and bundler.
import { Cartridge, type CartridgeOptions, type ChangeEvent, type EntryMetadata } from 'cartridge-vfs';

const options: CartridgeOptions = { durability: 'full', actor: 'checker' };
const cart: Cartridge = Cartridge.memory(options);
cart.createFile('/a.txt', 'a');
const metadata: EntryMetadata = cart.metadata('/a.txt');
const size: number = metadata.sizeBytes;
const subscription = cart.changes({ from: 'start' }).subscribe((event: ChangeEvent) => event.path);
subscription.unsubscribe();
const text: string | Buffer = cart.fs.readFileSync('/a.txt', 'utf8');
export { size, text };
