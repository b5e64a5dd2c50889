/**
 * `npm run bench`: every suite in this folder, printed as markdown tables.
 * Run with `--expose-gc` (the npm script does) so the heap-delta probe is meaningful.
 */
import { printTable, type Measurement } from './harness.js';

type Suite = { title: string; run: () => Promise<Measurement[]> | Measurement[] };

const suites: Suite[] = [];

for (const suite of suites) printTable(suite.title, await suite.run());
