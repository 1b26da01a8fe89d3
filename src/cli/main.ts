#!/usr/bin/env node
// The `weir` command (the package's bin): look into checkpoints, GraphDefs and SavedModels, and
// watch training.
//   weir inspect PATH
//   weir dot PATH [-o out.svg|out.dot]
//   weir board LOGDIR [--port N] [--host H]
//   weir convert PATH -o model.onnx
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DEFAULT_HOST, DEFAULT_PORT } from './board/defaults.js';

const HELP = `weir: look into TensorFlow checkpoints, GraphDefs and SavedModels; watch training

Usage:
  weir inspect PATH             variables of a checkpoint (names, dtypes, shapes); ops by type,
                                placeholders and signatures of a GraphDef or SavedModel
  weir dot PATH [-o FILE]       the graph of a GraphDef or SavedModel as Graphviz DOT or SVG
  weir board LOGDIR             a local web page of the event files under LOGDIR (what
                                tf.summary.FileWriter writes), as TensorBoard shows them: scalar
                                curves, images, histograms and the graph, updated as they grow
  weir convert PATH -o FILE     a SavedModel directory or a frozen GraphDef as an ONNX model
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

Options of board:
  --port N                      the port to serve on (default ${DEFAULT_PORT}; 0 picks a free one)
  --host H                      the address to listen on (default ${DEFAULT_HOST}: this machine only;
                                0.0.0.0 shows the board to the network)
Options of convert:
  -o, --output FILE             the ONNX file to write (required)
  --inputs NAME[,NAME...]       the model's inputs (default: the signature's inputs, or a
                                GraphDef's placeholders)
  --outputs NAME[,NAME...]      the model's outputs (default: the signature's; required for a GraphDef)
  --opset N                     the ONNX opset, 17 to 21 (default 17)
  --signature KEY               the SavedModel's signature (default serving_default)
  --tags TAG[,TAG...]           the SavedModel's MetaGraphDef tags (default serve)

LOGDIR's runs are its directories holding event files (events.out.tfevents.*), LOGDIR itself
included, as TensorBoard counts them.

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
  port: { type: 'string' },
  host: { type: 'string' },
  inputs: { type: 'string' },
  outputs: { type: 'string' },
  opset: { type: 'string' },
  signature: { type: 'string' },
} as const;

type Values = ReturnType<typeof parse>['values'];
type OptionName = Exclude<keyof typeof OPTIONS, 'help' | 'version'>;

interface Command {
  /** What the positional argument is called in messages. */
  arg: string;
  options: readonly OptionName[];
  run(arg: string, values: Values): Promise<void>;
}

/**
 * The subcommands: each takes one positional argument and the options it names, and loads its
 * modules when it runs (help and usage errors load nothing; the board loads the ops only to draw a graph).
 */
const COMMANDS: Record<string, Command> = {
  inspect: {
    arg: 'PATH',
    options: [],
    run: async (path) => {
      const [{ inspectModel }, { openModel }] = await Promise.all([import('./inspect.js'), import('./models.js')]);
      process.stdout.write(await inspectModel(await openModel(path)));
    },
  },
  dot: { arg: 'PATH', options: ['output', 'format', 'tags'], run: dot },
  board: {
    arg: 'LOGDIR',
    options: ['port', 'host'],
    run: async (logdir, values) => {
      const port = values.port === undefined ? undefined : Number(values.port);
      if (port !== undefined && !(/^\d+$/.test(values.port!) && port <= 65535)) throw new UsageError(`--port must be a port number (0 to 65535), not '${values.port}'`);
      if (values.host === '') throw new UsageError('--host must not be empty');
      const { runBoard } = await import('./board.js');
      await runBoard({ logdir, port, host: values.host }, (line) => process.stderr.write(`${line}\n`));
    },
  },
  convert: {
    arg: 'PATH',
    options: ['output', 'inputs', 'outputs', 'opset', 'signature', 'tags'],
    run: async (path, values) => {
      if (values.output === undefined) throw new UsageError('convert needs -o FILE (the ONNX file to write)');
      const { convertCommand } = await import('./convert.js');
      process.stderr.write(await convertCommand(path, values));
    },
  },
};

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
  const [name, arg, ...rest] = positionals;
  if (name === undefined) throw new UsageError('no command given');
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(`unknown command '${name}'`);
  if (arg === undefined) throw new UsageError(`${name} needs a ${command.arg}`);
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  for (const o of Object.keys(OPTIONS) as (keyof typeof OPTIONS)[]) {
    if (o === 'help' || o === 'version' || values[o] === undefined || command.options.includes(o)) continue;
    const owner = Object.keys(COMMANDS).find((c) => COMMANDS[c]!.options.includes(o));
    throw new UsageError(`--${o} is ${owner ? `an option of ${owner}` : 'no option'}, not of ${name}`);
  }
  await command.run(arg, values);
}

async function dot(path: string, values: Values): Promise<void> {
  const format = values.format ?? (values.output?.toLowerCase().endsWith('.svg') ? 'svg' : 'dot');
  if (format !== 'dot' && format !== 'svg') throw new UsageError(`--format must be dot or svg, not '${format}'`);
  const tags = values.tags?.split(',').map((t) => t.trim()).filter(Boolean);
  const [{ dotToSvg, modelToDot }, { openModel }] = await Promise.all([import('./dot.js'), import('./models.js')]);
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
