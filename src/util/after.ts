// after(): continue with a value now, or once its promise settles, so a synchronous path stays synchronous.

/** Apply `f` to `v` in this tick when it is already a value, else when the promise resolves. */
export function after<T, U>(v: T | Promise<T>, f: (t: T) => U | Promise<U>): U | Promise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}
