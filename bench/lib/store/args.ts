/** `--name value` numeric arguments of the store scenarios (after `npm run bench -- <scenario>`). */
export function numberArg(args: string[], name: string): number | undefined {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : undefined;
}
