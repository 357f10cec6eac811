// Command-line flags of the bench scripts: `--name value` or `--name=value`,
// every flag with a default, unknown flags refused so a typo is not silently ignored.
export type Flags = Record<string, string | number | boolean>;

export function parseFlags<T extends Flags>(defaults: T, argv = process.argv.slice(2)): T {
  const out: Flags = { ...defaults };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    // Split at the first '=' only: a value may hold one (--server-flags=--max-old-space-size=1536).
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
    let value = equals < 0 ? undefined : arg.slice(equals + 1);
    if (!(name in defaults)) throw new Error(`unknown flag --${name} (known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')})`);
    const fallback = defaults[name];
    if (typeof fallback === 'boolean' && value === undefined) {
      out[name] = true;
      continue;
    }
    if (value === undefined) value = argv[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (typeof fallback === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${value}`);
      out[name] = n;
    } else if (typeof fallback === 'boolean') out[name] = value !== 'false' && value !== '0';
    else out[name] = value;
  }
  return out as T;
}

/** "250,500,1000" -> [250, 500, 1000] */
export function numberList(value: string | number): number[] {
  return String(value).split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0);
}
