// Summarises a V8 CPU profile (`node --cpu-prof`, or `npx tsx --cpu-prof`): the functions that
// take the time, by self time and by inclusive time, optionally only in the samples under one
// function, or the call chains that lead into one function. What the bench/README's profiles
// were read with.
//
//   node tools/profile-summary.mjs <file.cpuprofile> [--under name] [--callers name] [--top N]
//
// `--under readFile`: only samples whose stack holds a function of that name, as percentages
// of those samples. `--callers blake3`: the chains of callers (up to 5 deep) of the samples
// spent in that function, most frequent first. A tsx run writes two profiles (the loader's
// and the script's): pass the larger one.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    under: { type: 'string' },
    callers: { type: 'string' },
    top: { type: 'string', default: '40' },
  },
});
const [file] = positionals;
if (file === undefined) {
  process.stderr.write(
    'usage: profile-summary.mjs <file.cpuprofile> [--under name] [--callers name] [--top N]\n',
  );
  process.exit(2);
}
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parents.set(child, node.id);

/** The frames of a sample, innermost first. */
function stackOf(id) {
  const stack = [];
  for (let current = id; current !== undefined; current = parents.get(current)) {
    stack.push(nodes.get(current).callFrame);
  }
  return stack;
}

function label(frame) {
  const where = frame.url.split('/').slice(-2).join('/');
  return `${frame.functionName || '(anonymous)'} ${where}`;
}

function print(title, counts, total) {
  process.stdout.write(`--- ${title}\n`);
  for (const [name, count] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((100 * count) / total).toFixed(1).padStart(5)} % ${name}\n`);
  }
}

const self = new Map();
const inclusive = new Map();
const chains = new Map();
let total = 0;
for (const sample of profile.samples) {
  const stack = stackOf(sample);
  if (values.under !== undefined && !stack.some((frame) => frame.functionName === values.under)) {
    continue;
  }
  if (values.callers !== undefined) {
    if (stack[0].functionName !== values.callers) continue;
    const chain = stack.slice(1, 6).map(label).join(' < ');
    chains.set(chain, (chains.get(chain) ?? 0) + 1);
    total++;
    continue;
  }
  total++;
  self.set(label(stack[0]), (self.get(label(stack[0])) ?? 0) + 1);
  for (const name of new Set(stack.map(label))) inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
}
process.stdout.write(`${total} samples\n`);
if (values.callers !== undefined) {
  print(`callers of ${values.callers}`, chains, total);
} else {
  print('self time', self, total);
  print('inclusive time', inclusive, total);
}
