// Reads one variable from .dev.vars, the local development hub's secrets (`npm run dev`),
// so that the scripts work against it with no flag.
import { readFileSync } from 'node:fs';

/** The value of `name` in .dev.vars, or undefined when the file or the line is missing. */
export function devVar(name) {
  try {
    const text = readFileSync(new URL('../.dev.vars', import.meta.url), 'utf8');
    const line = text.split('\n').find((l) => l.startsWith(`${name}=`));
    return line?.slice(name.length + 1).trim() || undefined;
  } catch {
    return undefined;
  }
}
