/** A small nginx configuration parser for the deploy tests: directives, arguments, blocks. */

export interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

function tokens(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '#') while (i < text.length && text[i] !== '\n') i++;
    else if (c === '{' || c === '}' || c === ';') out.push(text[i++]!);
    else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) throw new Error('unterminated string');
      out.push(text.slice(i + 1, j));
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};]/.test(text[j]!)) j++;
      out.push(text.slice(i, j));
      i = j;
    }
  }
  return out;
}

export function parseNginx(text: string): Directive[] {
  const toks = tokens(text);
  let pos = 0;
  const block = (top: boolean): Directive[] => {
    const list: Directive[] = [];
    while (pos < toks.length) {
      if (toks[pos] === '}') {
        if (top) throw new Error('unbalanced }');
        pos++;
        return list;
      }
      const name = toks[pos++]!;
      const args: string[] = [];
      while (pos < toks.length && toks[pos] !== ';' && toks[pos] !== '{') args.push(toks[pos++]!);
      if (pos >= toks.length) throw new Error(`directive ${name} not terminated`);
      if (toks[pos++] === '{') list.push({ name, args, block: block(false) });
      else list.push({ name, args });
    }
    if (!top) throw new Error('unbalanced {');
    return list;
  };
  return block(true);
}

export const find = (list: Directive[], name: string): Directive[] => list.filter((d) => d.name === name);

/**
 * The proxy_* / add_header directives in force in a location: nginx inherits an array-type
 * directive (proxy_set_header) from the enclosing level only when the location defines none of
 * its own, and a scalar one unless the location overrides it.
 */
export function effective(chain: Directive[][], name: string): Directive[] {
  for (let i = chain.length - 1; i >= 0; i--) {
    const here = find(chain[i]!, name);
    if (here.length > 0) return here;
  }
  return [];
}
