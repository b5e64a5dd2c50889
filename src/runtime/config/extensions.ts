/**
 * The keys this project accepts beyond Genie 2.40. Nothing else is added; every other key Genie
 * does not know is rejected.
 */
import { BACKEND_EXTENSIONS } from '../backend-registry.js';

export const PROJECT_EXTENSIONS = [
  ...BACKEND_EXTENSIONS.map(({ type, description }) => ({ key: `engine.backend.type: "${type}"`, description })),
  {
    key: 'sampler.min-p',
    description: 'min-p filtering: drop tokens whose probability is below min-p times the top probability; number in [0, 1), default 0 (off)',
  },
  {
    key: 'sampler.stages',
    description:
      'the sampler chain, in order: Genie\'s stages by name ("penalties", "top-k", "top-p", "min-p", "temperature") and extra ones as objects ' +
      '(logit-bias, typical-p, mirostat-v2, xtc); default Genie\'s chain; a draw ends it',
  },
] as const;
