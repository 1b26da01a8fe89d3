#!/usr/bin/env node
// The `weir` command (the package's bin): look into checkpoints, GraphDefs and SavedModels.
//   weir inspect PATH
//   weir dot PATH [-o out.svg|out.dot]
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { dotToSvg, modelToDot } from './dot.js';
import { inspectModel } from './inspect.js';
import { openModel } from './models.js';

const HELP = `weir: look into TensorFlow checkpoints, GraphDefs and SavedModels

Usage:
  weir inspect PATH             variables of a checkpoint (names, dtypes, shapes); ops by type,
                                placeholders and signatures of a GraphDef or SavedModel
  weir dot PATH [-o FILE]       the graph of a GraphDef or SavedModel as Graphviz DOT or SVG
  weir --help                   this text
  weir --version                weir's version

PATH is one of
  a V2 checkpoint prefix        model.ckpt-100 (the files model.ckpt-100.index and .data-*),
                                or one of its files
  a checkpoint directory        one with a 'checkpoint' state file: its latest checkpoint
  a SavedModel directory        one with saved_model.pb (or saved_model.pbtxt) and variables/
  a MetaGraphDef                a .meta file
  a GraphDef                    binary (.pb) or text format (.pbtxt, .txt)

Options of dot:
  -o, --output FILE             write to FILE: SVG when it ends in .svg, DOT otherwise
                                (default: DOT on standard output)
  -T, --format dot|svg          the output format, whatever FILE's name
  --tags TAG[,TAG...]           the SavedModel's MetaGraphDef with exactly these tags
                                (default: its first)

SVG is laid out by Graphviz compiled to WebAssembly (@hpcc-js/wasm-graphviz), offline.
Exit status: 0 on success, 1 when a file cannot be read or understood, 2 for a usage error.
`;

class UsageError extends Error {}

function version(): string {
  // src/cli/main.ts in the repository, dist/src/cli/main.js in the package: the nearest
  // package.json above that is weir's.
  let url = new URL('.', import.meta.url);
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'weir') return pkg.version ?? 'unknown';
    } catch {
      // not here: look one directory up
    }
    url = new URL('..', url);
  }
  return 'unknown';
}

function parse(args: string[]): ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>> {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  output: { type: 'string', short: 'o' },
  format: { type: 'string', short: 'T' },
  tags: { type: 'string' },
} as const;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv);
  if (values.help || positionals[0] === 'help') {
    process.stdout.write(HELP);
    return;
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return;
  }
  const [command, path, ...rest] = positionals;
  if (command === undefined) throw new UsageError('no command given');
  if (command !== 'inspect' && command !== 'dot') throw new UsageError(`unknown command '${command}'`);
  if (path === undefined) throw new UsageError(`${command} needs a PATH`);
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (command === 'inspect') {
    for (const o of ['output', 'format', 'tags'] as const) if (values[o] !== undefined) throw new UsageError(`--${o} is an option of dot, not of inspect`);
    process.stdout.write(await inspectModel(await openModel(path)));
    return;
  }

  const format = values.format ?? (values.output?.toLowerCase().endsWith('.svg') ? 'svg' : 'dot');
  if (format !== 'dot' && format !== 'svg') throw new UsageError(`--format must be dot or svg, not '${format}'`);
  const tags = values.tags?.split(',').map((t) => t.trim()).filter(Boolean);
  const { dot, note } = modelToDot(await openModel(path), tags);
  if (note) process.stderr.write(`weir: ${path}: ${note}\n`);
  const out = format === 'svg' ? await dotToSvg(dot) : dot;
  if (values.output === undefined) {
    process.stdout.write(out);
  } else {
    try {
      await writeFile(values.output, out);
    } catch (e) {
      throw new Error(`cannot write ${values.output}: ${(e as Error).message}`);
    }
    process.stderr.write(`weir: wrote ${values.output} (${format.toUpperCase()}, ${Buffer.byteLength(out)} bytes)\n`);
  }
}

try {
  await main(process.argv.slice(2));
} catch (e) {
  // A message, never a stack: the errors weir raises about files say what is wrong with them.
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof UsageError) {
    process.stderr.write(`weir: ${message}\nRun 'weir --help' for usage.\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`weir: ${message}\n`);
    process.exitCode = 1;
  }
}
