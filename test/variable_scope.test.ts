import { describe, expect, it } from 'vitest';
import * as tf from '../src/index.js';
import { expectClose, run } from './helpers.js';

/** Runs fn with a fresh default graph. */
function inGraph<T>(fn: (g: tf.Graph) => T): T {
  const g = new tf.Graph();
  return g.asDefault(() => fn(g));
}

const zeros = tf.zerosInitializer();

// Graph objects are compared by identity or name: formatting one in a failure message would walk the whole graph.
function expectSame(a: unknown, b: unknown): void {
  expect(a === b, 'same object').toBe(true);
}
const names = (vs: { name: string }[]): string[] => vs.map((v) => v.name);

describe('tf.getVariable', () => {
  it('names the variable after the variable scope and creates VariableV2 + initializer ops', () =>
    inGraph((g) => {
      const v = tf.variableScope('gen', () => tf.getVariable('w', { shape: [2, 3] }));
      expect(v.name).toBe('gen/w:0');
      expect(v.op.type).toBe('VariableV2');
      expect(v.shape).toEqual([2, 3]);
      expect(v.dtype).toBe('float32');
      expect(g.hasOperation('gen/w/Assign')).toBe(true);
      expect(g.hasOperation('gen/w/read')).toBe(true);
      // The default float initializer is glorot uniform, built under the variable's Initializer scope.
      expect(g.getOperations().some((op) => op.name.startsWith('gen/w/Initializer/'))).toBe(true);
      expect(names(tf.globalVariables())).toEqual(names([v]));
      expect(names(tf.trainableVariables())).toEqual(names([v]));
    }));

  it('ignores name scopes: only variable scopes prefix variable names', () =>
    inGraph(() => {
      const v = tf.nameScope('ns', () => tf.variableScope('vs', () => tf.getVariable('w', { shape: [1], initializer: zeros })));
      expect(v.name).toBe('vs/w:0');
      const c = tf.nameScope('ns', () => tf.variableScope('vs2', () => tf.constant(1, undefined, undefined, 'c')));
      expect(c.name).toBe('ns_1/vs2/c:0');
    }));

  it('defaults integer variables to zeros and honours trainable and collections', async () => {
    const g = new tf.Graph();
    const { i, nt, local } = g.asDefault(() => ({
      i: tf.getVariable('step', { shape: [], dtype: 'int32', trainable: false }),
      nt: tf.getVariable('nt', { shape: [2], initializer: tf.onesInitializer(), trainable: false }),
      local: tf.getVariable('loc', { shape: [1], initializer: zeros, collections: [tf.GraphKeys.LOCAL_VARIABLES] }),
    }));
    g.asDefault(() => {
      expect(names(tf.globalVariables())).toEqual(names([i, nt]));
      expect(names(tf.trainableVariables())).toEqual(names([local]));
      expect(names(tf.localVariables())).toEqual(names([local]));
    });
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => [tf.globalVariablesInitializer(), tf.localVariablesInitializer()]));
    const [iv, ntv] = await sess.run([i, nt]);
    expect(iv.dtype).toBe('int32');
    expect(iv.toArray()).toBe(0);
    expect(ntv.toArray()).toEqual([1, 1]);
    sess.close();
  });

  it('initializes from a constant value (then no shape may be given)', async () => {
    const g = new tf.Graph();
    const v = g.asDefault(() => tf.getVariable('c', { initializer: tf.constant([[1, 2], [3, 4]]) }));
    expect(v.shape).toEqual([2, 2]);
    const sess = new tf.Session({ graph: g });
    await sess.run(v.initializer);
    expectClose(await sess.run(v), [1, 2, 3, 4]);
    sess.close();
    expect(() => inGraph(() => tf.getVariable('c', { shape: [2], initializer: [1, 2] }))).toThrow(
      'If initializer is a constant, do not specify shape.',
    );
  });

  it('uses the scope initializer, inherited by sub-scopes, unless one is given', async () => {
    const g = new tf.Graph();
    const [a, b, c] = g.asDefault(() =>
      tf.variableScope('s', { initializer: tf.constantInitializer(7) }, () => [
        tf.getVariable('a', { shape: [2] }),
        tf.variableScope('inner', () => tf.getVariable('b', { shape: [1] })),
        tf.getVariable('c', { shape: [1], initializer: tf.constantInitializer(-1) }),
      ]),
    );
    const sess = new tf.Session({ graph: g });
    await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
    const [av, bv, cv] = await sess.run([a, b, c]);
    expect(av.toArray()).toEqual([7, 7]);
    expect(bv.toArray()).toEqual([7]);
    expect(cv.toArray()).toEqual([-1]);
    expect(b.name).toBe('s/inner/b:0');
    sess.close();
  });

  it('records a regularizer loss when the variable is created', () =>
    inGraph((g) => {
      const v = tf.getVariable('w', { shape: [2], initializer: zeros, regularizer: tf.contrib.layers.l2Regularizer(0.1) });
      const losses = g.getCollection<tf.Tensor>(tf.GraphKeys.REGULARIZATION_LOSSES);
      expect(losses.length).toBe(1);
      expect(losses[0]!.op.name.startsWith('w/Regularizer/')).toBe(true);
      tf.variableScope('', { reuse: true }, () => tf.getVariable('w', { shape: [2], regularizer: tf.contrib.layers.l2Regularizer(0.1) }));
      expect(g.getCollection(tf.GraphKeys.REGULARIZATION_LOSSES).length).toBe(1);
      expect(v.name).toBe('w:0');
    }));
});

describe('reuse', () => {
  it('creating an existing variable without reuse throws TF\'s ValueError', () =>
    inGraph(() => {
      tf.variableScope('gen', () => tf.getVariable('w', { shape: [1] }));
      let err: unknown;
      try {
        tf.variableScope('gen', () => tf.getVariable('w', { shape: [1] }));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(tf.ValueError);
      expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect((err as Error).name).toBe('ValueError');
      expect((err as Error).message).toContain(
        'Variable gen/w already exists, disallowed. Did you mean to set reuse=True or reuse=tf.AUTO_REUSE in VarScope?',
      );
    }));

  it('reusing a missing variable throws TF\'s ValueError', () =>
    inGraph(() => {
      expect(() => tf.variableScope('gen', { reuse: true }, () => tf.getVariable('w', { shape: [1] }))).toThrow(
        'Variable gen/w does not exist, or was not created with tf.get_variable(). Did you mean to set reuse=tf.AUTO_REUSE in VarScope?',
      );
    }));

  it('reuse=true returns the same variable; a shape or dtype mismatch throws', () =>
    inGraph(() => {
      const v1 = tf.variableScope('gen', () => tf.getVariable('w', { shape: [2, 3] }));
      const v2 = tf.variableScope('gen', { reuse: true }, () => tf.getVariable('w', { shape: [2, 3] }));
      expectSame(v2, v1);
      const v3 = tf.variableScope('gen', { reuse: true }, () => tf.getVariable('w'));
      expectSame(v3, v1);
      expect(() => tf.variableScope('gen', { reuse: true }, () => tf.getVariable('w', { shape: [3, 2] }))).toThrow(
        'Trying to share variable gen/w, but specified shape (3, 2) and found shape (2, 3).',
      );
      expect(() => tf.variableScope('gen', { reuse: true }, () => tf.getVariable('w', { shape: [2, 3], dtype: 'int32' }))).toThrow(
        'Trying to share variable gen/w, but specified dtype int32 and found dtype float32.',
      );
    }));

  it('AUTO_REUSE creates when missing and reuses when present', () =>
    inGraph(() => {
      const make = () => tf.variableScope('s', { reuse: tf.AUTO_REUSE }, () => tf.getVariable('w', { shape: [4] }));
      const a = make();
      const b = make();
      expectSame(b, a);
      expect(tf.globalVariables().length).toBe(1);
    }));

  it('reuse is inherited by sub-scopes, and reuse=false does not switch it off', () =>
    inGraph(() => {
      const w = tf.variableScope('a', () => tf.variableScope('b', () => tf.getVariable('w', { shape: [1] })));
      tf.variableScope('a', { reuse: true }, (outer) => {
        expect(outer.reuse).toBe(true);
        tf.variableScope('b', { reuse: false }, (inner) => {
          expect(inner.reuse).toBe(true);
          expectSame(tf.getVariable('w', { shape: [1] }), w);
        });
      });
    }));

  it('scope.reuseVariables() switches the current scope to reuse', () =>
    inGraph(() => {
      tf.variableScope('m', (scope) => {
        const a = tf.getVariable('w', { shape: [2] });
        expect(scope.reuse).toBe(false);
        scope.reuseVariables();
        expect(tf.getVariableScope().reuse).toBe(true);
        expectSame(tf.getVariable('w', { shape: [2] }), a);
      });
    }));

  it('getVariable reuse option overrides the scope', () =>
    inGraph(() => {
      const a = tf.getVariable('v', { shape: [1] });
      expectSame(tf.getVariable('v', { reuse: true }), a);
      expect(() => tf.getVariable('v', { reuse: false })).toThrow('already exists');
    }));
});

describe('tf.variableScope', () => {
  it('opens a name scope, made unique on re-entry, while variables keep the scope name', () =>
    inGraph(() => {
      const first = tf.variableScope('gen', (s) => {
        expect(s.name).toBe('gen');
        expect(s.originalNameScope).toBe('gen/');
        return { w: tf.getVariable('w', { shape: [1] }), c: tf.constant(1, undefined, undefined, 'c') };
      });
      const second = tf.variableScope('gen', { reuse: true }, (s) => {
        expect(s.name).toBe('gen');
        expect(s.originalNameScope).toBe('gen_1/');
        return { w: tf.getVariable('w', { shape: [1] }), c: tf.constant(1, undefined, undefined, 'c') };
      });
      expect(first.w.name).toBe('gen/w:0');
      expectSame(second.w, first.w);
      expect(first.c.name).toBe('gen/c:0');
      expect(second.c.name).toBe('gen_1/c:0');
    }));

  it('nests: names join with "/", getVariableScope() tracks the current scope', () =>
    inGraph(() => {
      expect(tf.getVariableScope().name).toBe('');
      const v = tf.variableScope('a', () =>
        tf.variableScope('b', (s) => {
          expectSame(tf.getVariableScope(), s);
          expect(s.name).toBe('a/b');
          expect(s.originalNameScope).toBe('a/b/');
          return tf.getVariable('w', { shape: [1] });
        }),
      );
      expect(v.name).toBe('a/b/w:0');
      expect(tf.getVariableScope().name).toBe('');
    }));

  it('restores the scope after an error', () =>
    inGraph((g) => {
      expect(() =>
        tf.variableScope('x', () => {
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(tf.getVariableScope().name).toBe('');
      expect(g.getNameScope()).toBe('');
    }));

  it('re-enters a captured VariableScope object from anywhere, keeping its name and reuse', () =>
    inGraph(() => {
      const captured = tf.variableScope('model', (s) => {
        tf.getVariable('w', { shape: [1] });
        return s;
      });
      const w = tf.variableScope('other', () =>
        tf.variableScope(captured, { reuse: true }, (s) => {
          expect(s.name).toBe('model');
          // The original name scope is kept for the scope; a fresh name scope is opened for ops.
          expect(s.originalNameScope).toBe('model/');
          expect(tf.constant(0, undefined, undefined, 'k').name).toBe('other/model/k:0');
          return tf.getVariable('w', { shape: [1] });
        }),
      );
      expect(w.name).toBe('model/w:0');
    }));

  it('defaultName makes unique scope names; counts of sub-scopes reset when the parent closes', () =>
    inGraph(() => {
      const names: string[] = [];
      const open = () => tf.variableScope(null, { defaultName: 'layer' }, (s) => names.push(s.name));
      open();
      open();
      tf.variableScope('net', () => {
        open();
        open();
      });
      tf.variableScope('net', { reuse: true }, () => {
        open();
      });
      expect(names).toEqual(['layer', 'layer_1', 'net/layer', 'net/layer_1', 'net/layer']);
      expect(() => tf.variableScope(null, { defaultName: 'x', reuse: true }, () => 0)).toThrow(
        'reuse=True cannot be used without a name_or_scope',
      );
      expect(() => tf.variableScope(null, {}, () => 0)).toThrow('scope (name_or_scope) is required');
    }));

  it('auxiliaryNameScope=false enters the variable scope without a name scope', () =>
    inGraph(() => {
      const c = tf.variableScope('vs', { auxiliaryNameScope: false }, (s) => {
        expect(s.name).toBe('vs');
        return tf.constant(0, undefined, undefined, 'c');
      });
      expect(c.name).toBe('c:0');
    }));

  it('keeps one variable store per graph', () => {
    const g1 = new tf.Graph();
    const g2 = new tf.Graph();
    const a = g1.asDefault(() => tf.getVariable('w', { shape: [1] }));
    const b = g2.asDefault(() => tf.getVariable('w', { shape: [1] }));
    expect(a === b).toBe(false);
    expectSame(a.graph, g1);
    expectSame(b.graph, g2);
  });

  it('variables made inside control dependencies do not depend on them', async () => {
    const g = new tf.Graph();
    const v = g.asDefault(() => {
      const c = tf.constant(1);
      return tf.controlDependencies([c], () => tf.getVariable('w', { shape: [1], initializer: zeros }));
    });
    expect(v.op.controlInputs.length).toBe(0);
    expect(v.initializer.controlInputs.length).toBe(0);
    await run(v.initializer);
  });
});
