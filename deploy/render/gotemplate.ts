/**
 * A small interpreter for the subset of Go's text/template (plus the Helm/sprig functions) that
 * the tailnetd chart uses, so the chart renders here without a helm binary.
 *
 *   source ─► lex (text / {{ action }}, with {{- -}} trimming) ─► parse (tree of nodes)
 *          ─► exec (dot, $ and variables; Go truthiness; pipelines with functions) ─► string
 *
 * Supported: text, actions with pipelines (`a | f x`), parenthesised pipelines, variables
 * (`$x := …`, `$x = …`, `$`), fields (`.A.B`, `$x.A`), string/raw/number/bool/nil literals,
 * if / else if / else, range (lists and maps, with `$i, $v :=`) / else, with / else, define,
 * template, and the functions in FUNCS. Anything else is an error, never a silent difference.
 * Numbers from values files are float64 in Helm and print as Go's %v does (1e+06); the
 * integer functions (int, add, sub, mul, div) return int64 (a bigint here) which prints plainly.
 */
import { stringify } from 'yaml';

type Value = unknown;

// ---------------------------------------------------------------- lexing

interface TextTok { kind: 'text'; text: string }
interface ActTok { kind: 'action'; body: string; line: number }
type Tok = TextTok | ActTok;

function lex(src: string, name: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ kind: 'text', text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src.startsWith('- ', start) || src.startsWith('-\n', start) || src.startsWith('-\t', start)) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    out.push({ kind: 'text', text });
    const close = findClose(src, start, name);
    let end = close;
    let trimRight = false;
    if (src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '')) {
      trimRight = true;
      end = close - 1;
    }
    const body = src.slice(start, end).trim();
    out.push({ kind: 'action', body, line: src.slice(0, open).split('\n').length });
    i = close + 2;
    if (trimRight) while (i < src.length && /\s/.test(src[i]!)) i++;
  }
  return out.filter((t) => !(t.kind === 'text' && t.text === ''));
}

/** Index of the `}}` closing an action, skipping string literals and comments. */
function findClose(src: string, from: number, name: string): number {
  let i = from;
  if (src.startsWith('/*', i)) {
    const end = src.indexOf('*/', i);
    if (end < 0) throw new Error(`${name}: unterminated comment`);
    i = end + 2;
  }
  while (i < src.length) {
    const c = src[i];
    if (c === '"') {
      i++;
      while (i < src.length && src[i] !== '"') i += src[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '`') {
      i = src.indexOf('`', i + 1) + 1;
      if (i === 0) throw new Error(`${name}: unterminated raw string`);
    } else if (src.startsWith('}}', i)) return i;
    else i++;
  }
  throw new Error(`${name}: unclosed action`);
}

// ---------------------------------------------------------------- expressions

type Operand =
  | { t: 'field'; base: 'dot' | string; path: string[] } // base: 'dot' or a variable name ('$', '$x')
  | { t: 'lit'; v: Value }
  | { t: 'ident'; name: string }
  | { t: 'paren'; pipe: Pipeline };
interface Command { args: Operand[] }
interface Pipeline { decl: string[]; assign: boolean; cmds: Command[] }

function tokenizeExpr(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '(' || c === ')' || c === '|' || c === ',') out.push(s[i++]!);
    else if (s.startsWith(':=', i)) (out.push(':='), (i += 2));
    else if (c === '=') (out.push('='), i++);
    else if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      out.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      out.push(s.slice(i, j + 1));
      i = j + 1;
    } else {
      let j = i;
      while (j < s.length && !/[\s()|,=]/.test(s[j]!) && !s.startsWith(':=', j)) j++;
      out.push(s.slice(i, j));
      i = j;
    }
  }
  return out;
}

function parsePipeline(src: string): Pipeline {
  const toks = tokenizeExpr(src);
  let pos = 0;
  const pipeline = (stop: string | null): Pipeline => {
    const decl: string[] = [];
    let assign = false;
    // `$x :=`, `$i, $v :=`, `$x =`
    let look = pos;
    const vars: string[] = [];
    while (toks[look]?.startsWith('$') && !toks[look]!.includes('.')) {
      vars.push(toks[look]!);
      look++;
      if (toks[look] === ',') look++;
      else break;
    }
    if (vars.length > 0 && (toks[look] === ':=' || toks[look] === '=')) {
      assign = toks[look] === '=';
      decl.push(...vars);
      pos = look + 1;
    }
    const cmds: Command[] = [];
    let args: Operand[] = [];
    while (pos < toks.length && toks[pos] !== stop) {
      const tk = toks[pos++]!;
      if (tk === '|') {
        if (args.length === 0) throw new Error(`empty command in "${src}"`);
        cmds.push({ args });
        args = [];
      } else if (tk === '(') {
        args.push({ t: 'paren', pipe: pipeline(')') });
        if (toks[pos++] !== ')') throw new Error(`unclosed ( in "${src}"`);
        // a field on a parenthesised value, e.g. (index . 0).Foo, is not supported
      } else args.push(operand(tk, src));
    }
    if (args.length > 0) cmds.push({ args });
    if (cmds.length === 0) throw new Error(`missing value in "${src}"`);
    return { decl, assign, cmds };
  };
  const p = pipeline(null);
  if (pos !== toks.length) throw new Error(`unexpected "${toks[pos]}" in "${src}"`);
  return p;
}

function operand(tk: string, src: string): Operand {
  if (tk === '.') return { t: 'field', base: 'dot', path: [] };
  if (tk.startsWith('.')) return { t: 'field', base: 'dot', path: tk.slice(1).split('.') };
  if (tk.startsWith('$')) {
    const [v, ...path] = tk.split('.');
    return { t: 'field', base: v!, path };
  }
  if (tk.startsWith('"')) return { t: 'lit', v: JSON.parse(tk) as string };
  if (tk.startsWith('`')) return { t: 'lit', v: tk.slice(1, -1) };
  if (tk === 'true' || tk === 'false') return { t: 'lit', v: tk === 'true' };
  if (tk === 'nil') return { t: 'lit', v: null };
  if (/^-?\d+$/.test(tk)) return { t: 'lit', v: BigInt(tk) }; // Go: an untyped integer constant
  if (/^-?\d*\.\d+([eE][-+]?\d+)?$/.test(tk)) return { t: 'lit', v: Number(tk) };
  if (/^[A-Za-z_]\w*$/.test(tk)) return { t: 'ident', name: tk };
  throw new Error(`bad operand "${tk}" in "${src}"`);
}

// ---------------------------------------------------------------- parsing

type Node =
  | { k: 'text'; text: string }
  | { k: 'out'; pipe: Pipeline; line: number }
  | { k: 'if'; branches: { cond: Pipeline; body: Node[] }[]; else: Node[] }
  | { k: 'range'; pipe: Pipeline; body: Node[]; else: Node[] }
  | { k: 'with'; pipe: Pipeline; body: Node[]; else: Node[] }
  | { k: 'template'; name: string; pipe: Pipeline | null };

export class Templates {
  private readonly defs = new Map<string, Node[]>();
  private readonly files = new Map<string, Node[]>();

  /** Adds a file; its `define`s become visible to every file. */
  add(name: string, src: string): void {
    const toks = lex(src, name);
    let pos = 0;
    const block = (terminators: string[]): { nodes: Node[]; end: string } => {
      const nodes: Node[] = [];
      while (pos < toks.length) {
        const tk = toks[pos++]!;
        if (tk.kind === 'text') {
          nodes.push({ k: 'text', text: tk.text });
          continue;
        }
        const body = tk.body;
        const where = `${name}:${tk.line}`;
        if (body.startsWith('/*')) continue; // comment
        const kw = /^(\w+)\b\s*(.*)$/s.exec(body);
        const word = kw?.[1];
        const rest = kw?.[2] ?? '';
        if (word === 'end' || (word === 'else' && terminators.includes('else'))) {
          if (!terminators.includes(word)) throw new Error(`${where}: unexpected {{${body}}}`);
          pos--; // let the caller consume it
          return { nodes, end: body };
        }
        if (word === 'if') nodes.push(this.parseIf(rest, block, () => toks[pos++] as ActTok, where));
        else if (word === 'range' || word === 'with') {
          const pipe = parsePipeline(rest);
          const b = block(['end', 'else']);
          let elseNodes: Node[] = [];
          if ((toks[pos++] as ActTok).body === 'else') {
            elseNodes = block(['end']).nodes;
            pos++;
          }
          nodes.push({ k: word, pipe, body: b.nodes, else: elseNodes });
        } else if (word === 'define') {
          const defName = JSON.parse(rest.trim()) as string;
          const b = block(['end']);
          pos++;
          this.defs.set(defName, b.nodes);
        } else if (word === 'template') {
          const m = /^("(?:[^"\\]|\\.)*")\s*(.*)$/s.exec(rest);
          if (!m) throw new Error(`${where}: bad template call`);
          nodes.push({ k: 'template', name: JSON.parse(m[1]!) as string, pipe: m[2]!.trim() ? parsePipeline(m[2]!) : null });
        } else if (word === 'else') throw new Error(`${where}: else outside if/range/with`);
        else if (word === 'block' || word === 'break' || word === 'continue') throw new Error(`${where}: {{${word}}} is not supported by this renderer`);
        else nodes.push({ k: 'out', pipe: parsePipeline(body), line: tk.line });
      }
      if (terminators.length > 0) throw new Error(`${name}: missing {{end}}`);
      return { nodes, end: '' };
    };
    const top = block([]);
    this.files.set(name, top.nodes);
  }

  private parseIf(
    cond: string,
    block: (t: string[]) => { nodes: Node[]; end: string },
    next: () => ActTok,
    where: string,
  ): Node {
    const branches: { cond: Pipeline; body: Node[] }[] = [];
    let elseNodes: Node[] = [];
    let current = parsePipeline(cond);
    for (;;) {
      const b = block(['end', 'else']);
      branches.push({ cond: current, body: b.nodes });
      const term = next().body;
      if (term === 'end') break;
      const elseIf = /^else\s+if\s+(.*)$/s.exec(term);
      if (elseIf) {
        current = parsePipeline(elseIf[1]!);
        continue;
      }
      if (term !== 'else') throw new Error(`${where}: unexpected {{${term}}}`);
      elseNodes = block(['end']).nodes;
      next();
      break;
    }
    return { k: 'if', branches, else: elseNodes };
  }

  has(name: string): boolean {
    return this.files.has(name);
  }

  /** Renders one added file with `dot` as the root value. */
  render(name: string, dot: Value): string {
    const nodes = this.files.get(name);
    if (!nodes) throw new Error(`no template file ${name}`);
    const out: string[] = [];
    this.exec(nodes, dot, new Scope(dot), out);
    return out.join('');
  }

  /** `include`: renders a define'd template to a string. */
  include(name: string, dot: Value): string {
    const nodes = this.defs.get(name);
    if (!nodes) throw new Error(`no template "${name}"`);
    const out: string[] = [];
    this.exec(nodes, dot, new Scope(dot), out);
    return out.join('');
  }

  private exec(nodes: Node[], dot: Value, scope: Scope, out: string[]): void {
    for (const n of nodes) {
      switch (n.k) {
        case 'text':
          out.push(n.text);
          break;
        case 'out': {
          const v = this.evalPipe(n.pipe, dot, scope);
          if (n.pipe.decl.length === 0) out.push(printValue(v));
          break;
        }
        case 'if': {
          const inner = scope.child();
          const hit = n.branches.find((b) => truthy(this.evalPipe(b.cond, dot, inner)));
          this.exec(hit ? hit.body : n.else, dot, inner, out);
          break;
        }
        case 'with': {
          const inner = scope.child();
          const v = this.evalPipe(n.pipe, dot, inner);
          if (truthy(v)) this.exec(n.body, v, inner, out);
          else this.exec(n.else, dot, inner, out);
          break;
        }
        case 'range': {
          const inner = scope.child();
          const decl = n.pipe.decl;
          const v = this.evalPipe({ ...n.pipe, decl: [] }, dot, inner);
          const items: [Value, Value][] = Array.isArray(v)
            ? v.map((x, i) => [BigInt(i), x])
            : isMap(v)
              ? Object.keys(v).sort().map((k) => [k, v[k]])
              : v === null || v === undefined
                ? []
                : fail(`range over ${typeof v}`);
          if (items.length === 0) this.exec(n.else, dot, inner, out);
          for (const [k, x] of items) {
            const s = inner.child();
            if (decl.length === 1) s.declare(decl[0]!, x);
            if (decl.length === 2) (s.declare(decl[0]!, k), s.declare(decl[1]!, x));
            this.exec(n.body, x, s, out);
          }
          break;
        }
        case 'template': {
          const v = n.pipe ? this.evalPipe(n.pipe, dot, scope) : null;
          out.push(this.include(n.name, v));
          break;
        }
      }
    }
  }

  private evalPipe(p: Pipeline, dot: Value, scope: Scope): Value {
    let v: Value = undefined;
    let first = true;
    for (const cmd of p.cmds) {
      v = this.evalCmd(cmd, dot, scope, first ? undefined : { v });
      first = false;
    }
    for (const d of p.decl) (p.assign ? scope.assign(d, v) : scope.declare(d, v));
    return v;
  }

  private evalCmd(cmd: Command, dot: Value, scope: Scope, piped: { v: Value } | undefined): Value {
    const [head, ...rest] = cmd.args;
    if (head!.t === 'ident') {
      const args = rest.map((a) => this.evalArg(a, dot, scope));
      if (piped) args.push(piped.v);
      return this.call(head!.name, args);
    }
    if (rest.length > 0 || piped) throw new Error('only functions take arguments');
    return this.evalArg(head!, dot, scope);
  }

  private evalArg(a: Operand, dot: Value, scope: Scope): Value {
    switch (a.t) {
      case 'lit':
        return a.v;
      case 'paren':
        return this.evalPipe(a.pipe, dot, scope);
      case 'ident':
        return this.call(a.name, []);
      case 'field': {
        let v = a.base === 'dot' ? dot : scope.get(a.base);
        for (const f of a.path) {
          if (v === null || v === undefined) throw new Error(`nil pointer evaluating .${f}`);
          if (!isMap(v)) throw new Error(`can't evaluate field ${f} in ${typeof v}`);
          v = v[f];
        }
        return v;
      }
    }
  }

  private call(name: string, args: Value[]): Value {
    if (name === 'include') return this.include(str(args[0]), args[1]);
    if (name === 'tpl') throw new Error('tpl is not supported by this renderer');
    const fn = FUNCS[name];
    if (!fn) throw new Error(`function "${name}" not defined`);
    return fn(...args);
  }
}

class Scope {
  private readonly vars = new Map<string, Value>();
  constructor(root: Value, private readonly parent: Scope | null = null) {
    if (!parent) this.vars.set('$', root);
  }
  child(): Scope {
    return new Scope(undefined, this);
  }
  declare(n: string, v: Value): void {
    this.vars.set(n, v);
  }
  assign(n: string, v: Value): void {
    for (let s: Scope | null = this; s; s = s.parent) if (s.vars.has(n)) return void s.vars.set(n, v);
    throw new Error(`undefined variable ${n}`);
  }
  get(n: string): Value {
    for (let s: Scope | null = this; s; s = s.parent) if (s.vars.has(n)) return s.vars.get(n);
    throw new Error(`undefined variable ${n}`);
  }
}

// ---------------------------------------------------------------- values and functions

function fail(msg: string): never {
  throw new Error(msg);
}

function isMap(v: Value): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Go's truth: false, 0, nil, and empty strings, slices and maps are false. */
export function truthy(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === '' || v === 0 || v === 0n) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

/** float64 as Go's %v prints it: strconv 'g' shortest, exponent when exp < -4 || exp >= 6 (so 1e+06). */
export function goFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const [mant, expStr] = n.toExponential().split('e') as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(n);
}

function printValue(v: Value): string {
  if (v === null || v === undefined) return ''; // Helm replaces "<no value>" with ""
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  return `map[${Object.keys(v as object).sort().map((k) => `${k}:${printValue((v as Record<string, Value>)[k])}`).join(' ')}]`;
}

function str(v: Value): string {
  return printValue(v);
}

function toInt(v: Value): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string') return /^-?\d+$/.test(v.trim()) ? BigInt(v.trim()) : 0n;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
}

/** Numbers compare as numbers whatever their Go type here; everything else by JSON identity. */
function cmp(a: Value, b: Value): number {
  const num = (x: Value): number | null => (typeof x === 'bigint' ? Number(x) : typeof x === 'number' ? x : null);
  const na = num(a);
  const nb = num(b);
  if (na !== null && nb !== null) return na === nb ? 0 : na < nb ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string') return a === b ? 0 : a < b ? -1 : 1;
  if (JSON.stringify(a) === JSON.stringify(b)) return 0;
  throw new Error(`incompatible types for comparison: ${typeof a}, ${typeof b}`);
}

/** Helm's toYaml: sigs.k8s.io/yaml (keys sorted), trailing newline trimmed. */
export function toYaml(v: Value): string {
  if (v === null || v === undefined) return 'null';
  const plain = JSON.parse(JSON.stringify(v, (_k, x: Value) => (typeof x === 'bigint' ? Number(x) : x))) as unknown;
  return stringify(plain, { version: '1.1', sortMapEntries: true, lineWidth: 0, indentSeq: false }).replace(/\n$/, '');
}

function sprintf(format: string, args: Value[]): string {
  let i = 0;
  return format.replace(/%([-+ 0#]*\d*(?:\.\d+)?)([sdvqt%])/g, (_m, _flags: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    if (verb === 'd') return toInt(a).toString();
    if (verb === 'q') return JSON.stringify(str(a));
    return str(a);
  });
}

const FUNCS: Record<string, (...a: Value[]) => Value> = {
  quote: (...a) => a.map((x) => JSON.stringify(str(x))).join(' '),
  squote: (...a) => a.map((x) => `'${str(x)}'`).join(' '),
  toYaml: (v: Value) => toYaml(v),
  toString: (v: Value) => str(v),
  indent: (n, s) => str(s).split('\n').map((l) => ' '.repeat(Number(toInt(n))) + l).join('\n'),
  nindent: (n, s) => '\n' + str(s).split('\n').map((l) => ' '.repeat(Number(toInt(n))) + l).join('\n'),
  default: (d, v) => (truthy(v) ? v : d),
  empty: (v) => !truthy(v),
  required: (msg, v) => (v === null || v === undefined || v === '' ? fail(str(msg)) : v),
  fail: (msg) => fail(str(msg)),
  printf: (f, ...a) => sprintf(str(f), a),
  trunc: (n, s) => str(s).slice(0, Number(toInt(n))),
  trimSuffix: (suf, s) => (str(s).endsWith(str(suf)) ? str(s).slice(0, str(s).length - str(suf).length) : str(s)),
  trimPrefix: (pre, s) => (str(s).startsWith(str(pre)) ? str(s).slice(str(pre).length) : str(s)),
  contains: (sub, s) => str(s).includes(str(sub)),
  hasPrefix: (pre, s) => str(s).startsWith(str(pre)),
  replace: (from, to, s) => str(s).split(str(from)).join(str(to)),
  lower: (s) => str(s).toLowerCase(),
  upper: (s) => str(s).toUpperCase(),
  join: (sep, list) => (Array.isArray(list) ? list.map(str).join(str(sep)) : str(list)),
  list: (...a) => a,
  int: (v) => toInt(v),
  int64: (v) => toInt(v),
  add: (...a) => a.reduce<bigint>((s, x) => s + toInt(x), 0n),
  sub: (a, b) => toInt(a) - toInt(b),
  mul: (...a) => a.reduce<bigint>((s, x) => s * toInt(x), 1n),
  div: (a, b) => toInt(a) / toInt(b),
  eq: (a, ...b) => b.some((x) => cmp(a, x) === 0),
  ne: (a, b) => cmp(a, b) !== 0,
  lt: (a, b) => cmp(a, b) < 0,
  le: (a, b) => cmp(a, b) <= 0,
  gt: (a, b) => cmp(a, b) > 0,
  ge: (a, b) => cmp(a, b) >= 0,
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
  not: (v) => !truthy(v),
  hasKey: (m, k) => isMap(m) && Object.hasOwn(m, str(k)),
};
