import * as z from 'zod';
import { filePath, versioned } from './values.js';

/** `tokenizer`: a Hugging Face `tokenizer.json` (research/genie.md §1.4). */
export const tokenizerSchema = versioned({ path: filePath });

export type TokenizerConfig = z.infer<typeof tokenizerSchema>;
