// Kubernetes resource quantities (spec.storage.size, a claim's request and capacity) in bytes.

const SUFFIXES: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity in bytes (`10Gi`, `1.5G`, `1073741824`, `1e9`). */
export function quantityBytes(q: string | number): number {
  const m = /^([+-]?[0-9.]+)(?:[eE]([+-]?[0-9]+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$/.exec(String(q).trim());
  if (!m) throw new Error(`${q} is not a quantity such as 10Gi`);
  const [, num, exp, suffix] = m;
  return Number(num) * (exp !== undefined ? 10 ** Number(exp) : SUFFIXES[suffix ?? '']);
}
