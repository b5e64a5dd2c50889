/** `bin/genie-ts.js` on the TypeScript sources (the bin runs dist/, which a test must not depend on being fresh). */
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
