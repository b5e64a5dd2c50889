import type { GenieConfig } from './types.js';

interface EngineSummary {
  readonly backend: { readonly type: string };
  readonly model: { readonly binary?: { readonly 'ctx-bins': readonly string[] } };
}

function engineFields(engines: readonly EngineSummary[]): { backend: string; ctxBins: string } {
  const count = engines.reduce((sum, engine) => sum + (engine.model.binary?.['ctx-bins'].length ?? 0), 0);
  return { backend: `backend=${engines.map((engine) => engine.backend.type).join('+')}`, ctxBins: `ctx-bins=${count}` };
}

/** One line for `config check`: `root=dialog type=basic backend=QnnHtp context=4096 ctx-bins=3`. */
export function summarizeConfig(config: GenieConfig): string {
  const fields = [`root=${config.root}`];
  switch (config.root) {
    case 'dialog':
    case 'text-generator': {
      const dialog = config.root === 'dialog' ? config.dialog : config['text-generator'];
      const engines = Array.isArray(dialog.engine) ? dialog.engine : [dialog.engine];
      const { backend, ctxBins } = engineFields(engines);
      fields.push(`type=${dialog.type}`, backend, `context=${dialog.context.size}`, ctxBins);
      break;
    }
    case 'text-encoder':
    case 'lut-encoder':
    case 'image-encoder':
    case 'embedding': {
      const encoder = config.root === 'text-encoder' ? config['text-encoder']
        : config.root === 'lut-encoder' ? config['lut-encoder']
        : config.root === 'image-encoder' ? config['image-encoder']
        : config.embedding;
      if (typeof encoder.type === 'string') fields.push(`type=${encoder.type}`);
      if (encoder.engine !== undefined) {
        const { backend, ctxBins } = engineFields([encoder.engine]);
        fields.push(backend);
        if (encoder.context !== undefined) fields.push(`context=${encoder.context['ctx-size']}`);
        fields.push(ctxBins);
      } else if (encoder.context !== undefined) {
        fields.push(`context=${encoder.context['ctx-size']}`);
      }
      break;
    }
    case 'sampler':
      fields.push(`type=${config.sampler.type ?? 'basic'}`);
      break;
    case 'standalone-engine': {
      const root = config['standalone-engine'];
      const { backend, ctxBins } = engineFields([root.engine]);
      fields.push(backend, `context=${root.context.size}`, ctxBins);
      break;
    }
    case 'profile':
      break;
  }
  return fields.join(' ');
}
