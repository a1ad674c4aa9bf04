/** The Go-template subset in deploy/render/gotemplate.ts behaves as text/template + Helm do. */
import { describe, expect, it } from 'vitest';
import { goFloat, Templates } from '../../deploy/render/gotemplate.js';

function run(src: string, dot: unknown, defs = ''): string {
  const t = new Templates();
  if (defs) t.add('_defs.tpl', defs);
  t.add('t', src);
  return t.render('t', dot);
}

describe('deploy/render/gotemplate', () => {
  it('trims whitespace on the marked side of {{- and -}} only', () => {
    expect(run('a  \n {{- "x" -}}  \n b', {})).toBe('axb');
    expect(run('a {{ "x" }} b', {})).toBe('a x b');
    expect(run('a\n{{- "x" }}\nb', {})).toBe('ax\nb');
  });

  it('evaluates fields, $ inside with/range, variables and missing keys as empty', () => {
    const dot = { Values: { a: { b: 'B' }, list: ['x', 'y'], m: { k2: 2, k1: 1 } }, Release: { Name: 'r' } };
    expect(run('{{ .Values.a.b }}', dot)).toBe('B');
    expect(run('{{ .Values.missing }}', dot)).toBe('');
    expect(() => run('{{ .Values.missing.deeper }}', dot)).toThrow(/nil pointer/);
    expect(run('{{ with .Values.a }}{{ .b }}-{{ $.Release.Name }}{{ end }}', dot)).toBe('B-r');
    expect(run('{{ range .Values.list }}[{{ . }}]{{ end }}', dot)).toBe('[x][y]');
    expect(run('{{ range $i, $v := .Values.list }}{{ $i }}={{ $v }};{{ end }}', dot)).toBe('0=x;1=y;');
    expect(run('{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}', dot)).toBe('k1=1;k2=2;'); // sorted keys, as Go
    expect(run('{{ $x := "a" }}{{ $x = "b" }}{{ $x }}', dot)).toBe('b');
    expect(run('{{ range .Values.none }}x{{ else }}empty{{ end }}', dot)).toBe('empty');
  });

  it('follows Go truthiness in if / else if / else, and/or/not', () => {
    const t = (v: unknown): string => run('{{ if .v }}T{{ else if .w }}W{{ else }}F{{ end }}', { v, w: false });
    expect([t(0), t(''), t([]), t({}), t(null), t(false)]).toEqual(['F', 'F', 'F', 'F', 'F', 'F']);
    expect([t(1), t('x'), t([0]), t({ a: 1 }), t(true)]).toEqual(['T', 'T', 'T', 'T', 'T']);
    expect(run('{{ if and .a (not .b) }}y{{ end }}{{ if or .b .a }}z{{ end }}', { a: 1, b: 0 })).toBe('yz');
  });

  it('has the Helm functions the chart uses', () => {
    expect(run('{{ "a" | quote }} {{ 3 | toString | quote }}', {})).toBe('"a" "3"');
    expect(run('{{ default "d" .x }} {{ .y | default "d" }}', { x: '', y: 'v' })).toBe('d v');
    expect(run('{{ printf "%s-%s" "a" "b" | trunc 3 | trimSuffix "-" }}', {})).toBe('a-b');
    expect(run('{{ join "," .l }}', { l: ['a', 'b'] })).toBe('a,b');
    expect(run('{{ add (div (int .ms) 1000) 5 }}', { ms: 15000 })).toBe('20');
    expect(run('{{ if le (int 20) (add 15 5) }}le{{ end }}', {})).toBe('le');
    expect(run('x:{{ toYaml .m | nindent 2 }}', { m: { b: 1, a: [1, 2] } })).toBe('x:\n  a:\n  - 1\n  - 2\n  b: 1'); // go-yaml v2 style: sequences not indented
    // YAML 1.1 scalars that would not read back as strings are quoted, as go-yaml v2 does
    expect(run('{{ toYaml . }}', { a: 'off', b: 'yes', c: '1' })).toBe('a: "off"\nb: "yes"\nc: "1"');
    expect(() => run('{{ fail "nope" }}', {})).toThrow('nope');
    expect(() => run('{{ nosuch 1 }}', {})).toThrow(/not defined/);
  });

  it('defines and includes templates with their own dot', () => {
    const defs = '{{- define "n" -}}name-{{ .Name }}{{- end -}}';
    expect(run('{{ include "n" .R | upper }}/{{ template "n" .R }}', { R: { Name: 'x' } }, defs)).toBe('NAME-X/name-x');
  });

  it('prints float64 values as Go %v does and integers plainly', () => {
    expect([goFloat(3), goFloat(15000), goFloat(100000), goFloat(1e6), goFloat(1234567), goFloat(0.5), goFloat(0.00001)]).toEqual([
      '3', '15000', '100000', '1e+06', '1.234567e+06', '0.5', '1e-05',
    ]);
    expect(run('{{ .n }} {{ int .n }}', { n: 1e6 })).toBe('1e+06 1000000');
  });

  it('rejects what it does not implement instead of rendering something else', () => {
    expect(() => run('{{ tpl "x" . }}', {})).toThrow(/not supported/);
    expect(() => run('{{ block "b" . }}x{{ end }}', {})).toThrow(/not supported/);
    expect(() => run('{{ if .a }}x', { a: 1 })).toThrow(/missing \{\{end\}\}/);
  });
});
