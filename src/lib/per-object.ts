// Things built once per configuration (or bindings) object: one per isolate, rebuilt only when
// a new object arrives (another set of bindings, a test's own configuration).

/** Wraps `build` so it runs once per key object; the results go when their key does. */
export function oncePer<K extends object, V>(build: (key: K) => V): (key: K) => V {
  const built = new WeakMap<K, V>();
  return (key) => {
    if (built.has(key)) return built.get(key) as V;
    const value = build(key);
    built.set(key, value);
    return value;
  };
}
