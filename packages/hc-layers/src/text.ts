/**
 * Character-level text for the small language models: a tokenizer whose vocabulary is the
 * set of characters of a text, and random training windows. Browser-safe: the text is passed
 * in as a string (tests and examples read `data/genesis-kjv.txt`; a page can `fetch` it).
 */
import { fmtShape, ShapeError, tensor, ValueError, type Random, type Tensor } from '@hyperconn/tensor';

/** Maps each distinct character of a text to an id: ids follow code-point order. */
export class CharTokenizer {
  /** The characters, `vocab[id]`. */
  readonly vocab: readonly string[];
  readonly #ids: ReadonlyMap<string, number>;

  private constructor(vocab: readonly string[]) {
    this.vocab = vocab;
    this.#ids = new Map(vocab.map((ch, i) => [ch, i]));
  }

  /** The vocabulary of `text`, sorted by code point so it does not depend on the text's order. */
  static fromText(text: string): CharTokenizer {
    if (text.length === 0) throw new ValueError('CharTokenizer.fromText: the text is empty');
    const chars = [...new Set(Array.from(text))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(chars);
  }

  /** A tokenizer over exactly these characters (each a single code point, no repeats). */
  static fromVocab(vocab: readonly string[]): CharTokenizer {
    const seen = new Set<string>();
    for (const ch of vocab) {
      if (Array.from(ch).length !== 1)
        throw new ValueError(`CharTokenizer.fromVocab: '${ch}' is not a single character`);
      if (seen.has(ch)) throw new ValueError(`CharTokenizer.fromVocab: '${ch}' appears twice`);
      seen.add(ch);
    }
    return new CharTokenizer([...vocab]);
  }

  get vocabSize(): number {
    return this.vocab.length;
  }

  /** The ids of the characters of `text`; a character outside the vocabulary is a ValueError. */
  encode(text: string): number[] {
    const out: number[] = [];
    let offset = 0;
    for (const ch of text) {
      const id = this.#ids.get(ch);
      if (id === undefined) {
        throw new ValueError(
          `CharTokenizer.encode: character ${JSON.stringify(ch)} at ` +
            `offset ${offset} is not in the vocabulary of ${this.vocabSize}`,
        );
      }
      out.push(id);
      offset += ch.length;
    }
    return out;
  }

  /** The text of `ids`; an id outside [0, vocabSize) is a ValueError. */
  decode(ids: Iterable<number>): string {
    let out = '';
    for (const id of ids) {
      const ch = Number.isInteger(id) ? this.vocab[id] : undefined;
      if (ch === undefined) throw new ValueError(`CharTokenizer.decode: id ${id} is not in [0, ${this.vocabSize})`);
      out += ch;
    }
    return out;
  }
}

/**
 * Options of `sampleBatch`: `batchSize` and `seqLen` must be positive integers (ValueError);
 * `rng` draws the window offsets.
 */
export interface BatchOptions {
  batchSize: number;
  /** Window length: the model sees `seqLen` tokens and predicts the `seqLen` next ones. */
  seqLen: number;
  rng: Random;
}

/**
 * `batchSize` windows of `seqLen + 1` consecutive ids starting at uniformly random offsets,
 * as a `[batchSize, seqLen + 1]` tensor: what `TinyTransformer.loss` takes (inputs are the
 * first `seqLen` columns, targets the last `seqLen`).
 */
export function sampleBatch(ids: ArrayLike<number>, options: BatchOptions): Tensor {
  const { batchSize, seqLen, rng } = options;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1)
    throw new ValueError(`sampleBatch: batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isSafeInteger(seqLen) || seqLen < 1)
    throw new ValueError(`sampleBatch: seqLen must be a positive integer, got ${seqLen}`);
  const width = seqLen + 1;
  if (ids.length < width) {
    throw new ShapeError(`sampleBatch: ${ids.length} ids are fewer than one window of seqLen + 1 = ${width}`);
  }
  const starts = rng.integers(0, ids.length - width + 1, [batchSize]).toTypedArray();
  const out = new Float64Array(batchSize * width);
  for (let b = 0; b < batchSize; b++) {
    const start = starts[b]!;
    for (let t = 0; t < width; t++) out[b * width + t] = ids[start + t]!;
  }
  return tensor(out, { shape: [batchSize, width] });
}

/** Splits ids into a leading training part and a trailing held-out part of `fraction` of them. */
export function splitIds(ids: readonly number[], fraction: number): { train: number[]; heldOut: number[] } {
  if (!(fraction > 0 && fraction < 1)) throw new ValueError(`splitIds: fraction must lie in (0, 1), got ${fraction}`);
  const cut = Math.round(ids.length * (1 - fraction));
  if (cut < 1 || cut >= ids.length)
    throw new ShapeError(
      `splitIds: ${ids.length} ids at fraction ${fraction} leave an empty part (${fmtShape([cut, ids.length - cut])})`,
    );
  return { train: ids.slice(0, cut), heldOut: ids.slice(cut) };
}
