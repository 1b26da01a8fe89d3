/**
 * TensorFlow's error classes (tf.errors.*). Every error weir raises about a graph or a run is one
 * of these, with a message naming the op and, where known, the place in user code that created it.
 */
export class OpError extends Error {
  /** The op the error is about, when there is one. */
  readonly opName: string | undefined;
  constructor(
    message: string,
    readonly code: string,
    opName?: string,
  ) {
    super(message);
    this.name = new.target.name;
    this.opName = opName;
  }
}

export class CancelledError extends OpError {
  constructor(m: string, op?: string) { super(m, 'CANCELLED', op); }
}
export class UnknownError extends OpError {
  constructor(m: string, op?: string) { super(m, 'UNKNOWN', op); }
}
export class InvalidArgumentError extends OpError {
  constructor(m: string, op?: string) { super(m, 'INVALID_ARGUMENT', op); }
}
export class NotFoundError extends OpError {
  constructor(m: string, op?: string) { super(m, 'NOT_FOUND', op); }
}
export class AlreadyExistsError extends OpError {
  constructor(m: string, op?: string) { super(m, 'ALREADY_EXISTS', op); }
}
export class ResourceExhaustedError extends OpError {
  constructor(m: string, op?: string) { super(m, 'RESOURCE_EXHAUSTED', op); }
}
export class FailedPreconditionError extends OpError {
  constructor(m: string, op?: string) { super(m, 'FAILED_PRECONDITION', op); }
}
export class OutOfRangeError extends OpError {
  constructor(m: string, op?: string) { super(m, 'OUT_OF_RANGE', op); }
}
export class UnimplementedError extends OpError {
  constructor(m: string, op?: string) { super(m, 'UNIMPLEMENTED', op); }
}
export class InternalError extends OpError {
  constructor(m: string, op?: string) { super(m, 'INTERNAL', op); }
}
export class DataLossError extends OpError {
  constructor(m: string, op?: string) { super(m, 'DATA_LOSS', op); }
}
export class UnavailableError extends OpError {
  constructor(m: string, op?: string) { super(m, 'UNAVAILABLE', op); }
}
