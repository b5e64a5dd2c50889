import { processIO, type CliIO, type Command } from './io.js';

const USAGE = `usage: genie-ts <command> [options]

commands:
  run [-c CONFIG] -p PROMPT   run a Genie dialog config (default: the embedded demo model)
  demo --out DIR              write the embedded demo model bundle (random weights; --vision: a VLM)
  export --hf DIR --out DIR   turn a Hugging Face checkpoint (Qwen2, Llama 3, Phi-3) into a bundle
  config check FILE           validate a Genie JSON config the way Genie does and print a summary
  trace diff A B              compare two traces (run --trace) step by step and tensor by tensor
  inspect FILE                the graphs, variants, KV layout and buffer plan of a config or ctx-bin
  chat [-c CONFIG]            an interactive chat on a config's chat template (default: the demo model)

'genie-ts <command> --help' shows a command's options.
`;

const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./commands/run.js')).runCommand,
  chat: async () => (await import('./commands/chat.js')).chatCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
  export: async () => (await import('./commands/export.js')).exportCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  trace: async () => (await import('./commands/trace.js')).traceCommand,
  inspect: async () => (await import('./commands/inspect.js')).inspectCommand,
};

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.stderr(USAGE);
    return 2;
  }
  if (name === '-h' || name === '--help') {
    io.stdout(USAGE);
    return 0;
  }
  const load = commands[name];
  if (!load) {
    io.stderr(`genie-ts: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  return (await load())(rest, io);
}
