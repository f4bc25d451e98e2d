package config

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// Setting is one row of the configuration reference: a setting's three
// names, its default and what it means, read from ServeFlags and the yaml
// keys of Config (docs/configuration.md is Reference's output).
type Setting struct {
	Flag    string // without dashes; empty for a file-only setting
	Env     string // empty for a file-only setting
	Key     string // dotted path in the YAML file, such as ldap.url
	Default string
	Usage   string
}

// A field of Config that has no flag is a file-only setting (a list of
// structs, say, that no flag can spell): it says what it means in a
// `doc:"…"` tag beside its yaml key, which the reference prints.
const docTag = "doc"

// fileKey is a leaf of Config: its dotted yaml path, its address, and its
// doc tag.
type fileKey struct {
	path string
	addr uintptr
	doc  string
}

// fileKeys lists the leaves of the struct v points to, depth first;
// nested structs (ldap:, metrics:) are sections, inline ones add their
// keys to the parent's, anything else is a leaf.
func fileKeys(v reflect.Value, prefix string) []fileKey {
	var keys []fileKey
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		fv := v.Field(i)
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			// An inline struct's keys are its parent's (TokenExpiry).
			keys = append(keys, fileKeys(fv, prefix)...)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Tag.Get(docTag) == "" {
			keys = append(keys, fileKeys(fv, prefix+name+".")...)
			continue
		}
		keys = append(keys, fileKey{path: prefix + name, addr: fv.Addr().Pointer(), doc: f.Tag.Get(docTag)})
	}
	return keys
}

// boundAddr is the address of the variable a flag sets: the flag package's
// values are pointers to it, and repeatable flags (listValue) hold one.
func boundAddr(v flag.Value) uintptr {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer {
		return 0
	}
	if e := rv.Elem(); e.Kind() == reflect.Struct {
		for i := range e.NumField() {
			if e.Field(i).Kind() == reflect.Pointer {
				return e.Field(i).Pointer()
			}
		}
		return 0
	}
	return rv.Pointer()
}

// EnvName is the environment variable of the flag name.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Settings returns every setting of `portus serve`, sorted by file key,
// and the problems that make the reference incomplete: a flag bound to no
// yaml key, or a yaml key with neither a flag nor a doc tag.
func Settings() ([]Setting, []string) {
	c := Defaults()
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	ServeFlags(fs, &c)
	keys := fileKeys(reflect.ValueOf(&c).Elem(), "")
	byAddr := map[uintptr]fileKey{}
	for _, k := range keys {
		byAddr[k.addr] = k
	}
	var (
		settings []Setting
		problems []string
		flagged  = map[string]bool{}
	)
	fs.VisitAll(func(f *flag.Flag) {
		k, ok := byAddr[boundAddr(f.Value)]
		if !ok {
			problems = append(problems, fmt.Sprintf("flag --%s is bound to no yaml key of config.Config: bind it to a field with a yaml tag", f.Name))
			return
		}
		flagged[k.path] = true
		_, usage := flag.UnquoteUsage(f)
		settings = append(settings, Setting{Flag: f.Name, Env: EnvName(f.Name), Key: k.path, Default: f.DefValue, Usage: usage})
	})
	for _, k := range keys {
		switch {
		case flagged[k.path]:
		case k.doc != "":
			settings = append(settings, Setting{Key: k.path, Usage: k.doc})
		default:
			problems = append(problems, fmt.Sprintf("yaml key %s has no flag and no `doc:\"…\"` tag: register a flag in ServeFlags or say in a doc tag what it means", k.path))
		}
	}
	sort.Slice(settings, func(i, j int) bool { return settings[i].Key < settings[j].Key })
	return settings, problems
}

// referenceHead opens docs/configuration.md.
const referenceHead = `# Configuration reference

For operators: every setting of ` + "`portus serve`" + `, generated from the code by
` + "`portus config reference`" + ` (regenerate with
` + "`go run ./server/cmd/portus config reference > docs/configuration.md`" + `; a test fails
when this page and the code differ). How to deploy with them: see [operators.md](operators.md).

Each setting has three names: the flag ` + "`--max-tokens`" + ` is the environment variable
` + "`PORTUS_MAX_TOKENS`" + ` and the key ` + "`max_tokens`" + ` in the YAML file named by
` + "`--config FILE`" + ` (or ` + "`PORTUS_CONFIG`" + `). A flag beats the environment, which beats the file,
which beats the default. Keys with a dot are sections of the file (` + "`ldap.url`" + ` is
` + "`url:`" + ` under ` + "`ldap:`" + `). Repeatable flags are lists in the file (` + "`service: [a, b]`" + `)
and comma-separated in the environment (` + "`PORTUS_SERVICE=a,b`" + `). Unknown keys in the file
are errors. Secrets are never settings: passwords and tokens are read from files or stdin.
Admin commands (` + "`portus user …`" + `, ` + "`backup`" + `, ` + "`registry-config`" + ` …) read ` + "`--data`" + `,
` + "`--config`" + ` and the store settings (` + "`--store`" + `, ` + "`--etcd-*`" + `) the same way.
Settings without a flag exist only in the file.

`

// Reference writes docs/configuration.md: the head, then one table row per
// setting. It fails when a setting is undocumented.
func Reference(w io.Writer) error {
	settings, problems := Settings()
	if len(problems) > 0 {
		return fmt.Errorf("the configuration reference is incomplete:\n  %s", strings.Join(problems, "\n  "))
	}
	var b strings.Builder
	b.WriteString(referenceHead)
	b.WriteString("| file key | flag | environment | default | meaning |\n| --- | --- | --- | --- | --- |\n")
	b.WriteString("| — | `--config` | `PORTUS_CONFIG` |  | YAML configuration file |\n")
	for _, s := range settings {
		flagName, env := "file only", "—"
		if s.Flag != "" {
			flagName, env = "`--"+s.Flag+"`", "`"+s.Env+"`"
		}
		def := ""
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Key, flagName, env, def, cell(s.Usage))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// cell keeps a table cell on one line and its pipes literal.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\n", " "), "|", `\|`)
}
