/**
 * The keys this project accepts beyond Genie 2.40. Nothing else is added; every other key Genie
 * does not know is rejected.
 */
export const PROJECT_EXTENSIONS = [
  {
    key: 'engine.backend.type: "Reference"',
    description: "run the model on this project's pure-TypeScript reference executor (no backend object; a QnnHtp object next to it is an error)",
  },
  {
    key: 'sampler.min-p',
    description: 'min-p filtering: drop tokens whose probability is below min-p times the top probability; number in [0, 1), default 0 (off)',
  },
] as const;
