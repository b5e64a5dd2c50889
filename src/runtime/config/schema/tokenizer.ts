import * as z from 'zod';
import { filePath, versioned } from './values.js';

/** `tokenizer`: a Hugging Face `tokenizer.json` (docs/genie-behaviour.md#tokenizer-block). */
export const tokenizerSchema = versioned({ path: filePath });

export type TokenizerConfig = z.infer<typeof tokenizerSchema>;
