/**
 * The default-session stack (TF1's ops.get_default_session). It lives in core so that the graph
 * layer (`Tensor.eval`, `Operation.run`) and the ops layer (`Variable.eval`) can find the session to
 * run in without importing the library layer: `Session` (src/session.ts) registers itself here.
 */

/** What eval()/run() need of a session. `Session` implements it. */
export interface DefaultSession {
  readonly graph: object;
  run(fetches: any, feedDict?: any): Promise<any>;
}

const stack: DefaultSession[] = [];

/** The innermost default session, or null (TF's tf.get_default_session()). */
export function getDefaultSession(): DefaultSession | null {
  return stack.length ? stack[stack.length - 1]! : null;
}

/** Makes `sess` the default session until the matching popDefaultSession. */
export function pushDefaultSession(sess: DefaultSession): void {
  stack.push(sess);
}

/**
 * Removes the innermost entry for `sess`, wherever it sits (TF's non-nesting exit, which
 * InteractiveSession uses: closing one out of order does not disturb the others).
 */
export function popDefaultSession(sess: DefaultSession): void {
  const i = stack.lastIndexOf(sess);
  if (i >= 0) stack.splice(i, 1);
}

/** Runs fn with `sess` as the default session; a Promise keeps it default until it settles. */
export function withDefaultSession<T>(sess: DefaultSession, fn: () => T): T {
  pushDefaultSession(sess);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    popDefaultSession(sess);
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => popDefaultSession(sess)) as T;
  popDefaultSession(sess);
  return result;
}

/**
 * The session eval()/run() should use: `session` if given, else the default one; checks that it
 * runs `graph`. `what` picks TF's wording; `fail` builds the error thrown (the caller's class).
 */
export function sessionFor(
  graph: object,
  session: DefaultSession | undefined,
  what: 'tensor' | 'operation',
  fail: (message: string) => Error,
): DefaultSession {
  const verb = what === 'tensor' ? 'evaluate' : 'execute';
  const call = what === 'tensor' ? 'eval' : 'run';
  if (session === undefined || session === null) {
    const d = getDefaultSession();
    if (d === null) {
      throw fail(
        `Cannot ${verb} ${what} using \`${call}()\`: No default session is registered. Use \`sess.asDefault(() => ...)\`, ` +
          `a tf.InteractiveSession, or pass an explicit session to \`${call}(feedDict, sess)\``,
      );
    }
    if (d.graph !== graph) {
      throw fail(
        `Cannot use the default session to ${verb} ${what}: the ${what}'s graph is different from the session's graph. ` +
          `Pass an explicit session to \`${call}(feedDict, sess)\`.`,
      );
    }
    return d;
  }
  if (session.graph !== graph) {
    throw fail(`Cannot use the given session to ${verb} ${what}: the ${what}'s graph is different from the session's graph.`);
  }
  return session;
}
