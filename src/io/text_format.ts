/** Protocol buffer text format (.pbtxt, the `checkpoint` state file), via protobufjs' text format. */
import textformat from 'protobufjs/ext/textformat.js';
import { InvalidArgumentError } from '../core/errors.js';
import { messageType, type MessageName, type MessageTypes } from './proto.js';

export function toTextFormat<N extends MessageName>(name: N, value: MessageTypes[N]): string {
  const text = textformat.toText(messageType(name), value as Record<string, unknown>);
  return text.endsWith('\n') || text === '' ? text : text + '\n';
}

/** Parses text format; a syntax error or unknown field is an InvalidArgumentError naming `what`. */
export function fromTextFormat<N extends MessageName>(name: N, text: string, what: string = name): MessageTypes[N] {
  try {
    return textformat.fromText(messageType(name), text) as unknown as MessageTypes[N];
  } catch (e) {
    throw new InvalidArgumentError(`Could not parse ${what} as a text-format ${name}: ${(e as Error).message}`);
  }
}
