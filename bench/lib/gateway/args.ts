/** `--name=value` integer arguments of a scenario (after `npm run bench -- <scenario>`). */
export function intArg(args: string[], name: string, fallback: number): number {
  const prefix = `--${name}=`;
  const raw = args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, got ${raw}`);
  return value;
}

export function listArg(args: string[], name: string, fallback: number[]): number[] {
  const prefix = `--${name}=`;
  const raw = args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
  if (raw === undefined) return fallback;
  return raw.split(',').map((part) => intArg([`--${name}=${part}`], name, 0));
}
