// helm-engine renders a chart the way Helm's engine does (pkg/engine): Go text/template with
// sprig's functions (minus env/expandenv), toYaml/include/required/tpl, missingkey=zero and
// "<no value>" removed, values read with sigs.k8s.io/yaml (numbers are float64). It exists to
// check deploy/render/gotemplate.ts against the real template engine without building helm:
//
//	go run . <chartDir> <releaseName> <namespace> '<values JSON merged over values.yaml>'
//
// It prints a JSON object: template path → rendered text (NOTES.txt included).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

func merge(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				dst[k] = merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
	return dst
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: helm-engine <chartDir> <release> <namespace> <valuesJSON>")
		os.Exit(2)
	}
	dir, release, namespace := os.Args[1], os.Args[2], os.Args[3]
	var chart map[string]interface{}
	must(readYAML(filepath.Join(dir, "Chart.yaml"), &chart))
	values := map[string]interface{}{}
	must(readYAML(filepath.Join(dir, "values.yaml"), &values))
	var over map[string]interface{}
	must(json.Unmarshal([]byte(os.Args[4]), &over))
	values = merge(values, over)
	name := chart["name"].(string)

	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	funcs["include"] = func(n string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, n, data)
		return buf.String(), err
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return v, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["tpl"] = func(string, interface{}) (string, error) { return "", fmt.Errorf("tpl not used") }
	t.Funcs(funcs)

	entries, err := os.ReadDir(filepath.Join(dir, "templates"))
	must(err)
	var files []string
	for _, e := range entries {
		p := name + "/templates/" + e.Name()
		src, err := os.ReadFile(filepath.Join(dir, "templates", e.Name()))
		must(err)
		_, err = t.New(p).Parse(string(src))
		must(err)
		files = append(files, p)
	}
	sort.Strings(files)
	out := map[string]string{}
	for _, p := range files {
		base := filepath.Base(p)
		if strings.HasPrefix(base, "_") {
			continue
		}
		vals := map[string]interface{}{
			"Values":  values,
			"Release": map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
			"Chart":   map[string]interface{}{"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
			"Template": map[string]interface{}{"Name": p},
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, p, vals); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out[p] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	must(enc.Encode(out))
}

func readYAML(path string, v interface{}) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(b, v)
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
