package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EnvPrefix starts every environment variable essnap reads; an `env` tag
// names the rest (`env:"REPOSITORY"` is ESSNAP_REPOSITORY).
const EnvPrefix = "ESSNAP_"

// MaxDepth bounds how deeply an event may nest. No essnap event needs more
// than a few levels (metadata and index_settings objects included); a
// deeper one is refused before it is decoded.
const MaxDepth = 32

// MaxEventBytes bounds an event's size: a console event is a few hundred
// bytes, and Lambda's own limit is 6 MB.
const MaxEventBytes = 256 << 10

// Field is one configuration field as declared by a config struct's tags:
// the event's dotted JSON path and the environment variable, if any.
type Field struct {
	Path string // e.g. "retention.expire_after"
	Env  string // e.g. "ESSNAP_RETENTION_EXPIRE_AFTER"; "" = event only
	// Object is true for a field that holds a nested configuration object
	// (its own fields are listed after it).
	Object bool
}

// Loaded is what Load found: the problems to report (with Validate's own)
// and which fields the environment or the event set, for defaults that
// depend on whether a field was given (a retention prefix defaults from
// the name template only when neither sets it).
type Loaded struct {
	Problems []string
	// Set holds the dotted paths set by the environment or the event.
	Set map[string]bool
	// Event holds the dotted paths the event set.
	Event map[string]bool
}

// Load applies the environment, then the event, onto cfg: a pointer to a
// config struct that already holds the defaults. Each field is declared
// once, by its struct tags: `json:"name"` for the event, `env:"NAME"` for
// ESSNAP_NAME, `envprefix:"TARGET_"` on a nested struct for its fields'
// variables; embedded structs are flattened. It never stops at the first
// problem, so Validate reports every problem at once. The event must be a
// JSON object (empty or null mean {}); unknown fields, fields that differ
// from a known one only in case, duplicate keys and null values are
// problems, never silent defaults.
func Load(cfg any, getenv func(string) string, event []byte) Loaded {
	l := Loaded{Set: map[string]bool{}, Event: map[string]bool{}}
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config.Load needs a pointer to a struct, got %T", cfg))
	}
	l.env(v.Elem(), EnvPrefix, "", getenv)
	event = bytes.TrimSpace(event)
	if len(event) == 0 || string(event) == "null" {
		return l
	}
	if len(event) > MaxEventBytes {
		l.add("the event is %d bytes; an essnap event is a small JSON object (at most %d bytes)", len(event), MaxEventBytes)
		return l
	}
	if err := checkSyntax(event); err != nil {
		l.add("%v", err)
		return l
	}
	l.object(v.Elem(), event, "")
	return l
}

func (l *Loaded) add(format string, args ...any) {
	l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
}

// Fields lists every field of the config struct cfg points to (or is), in
// declaration order, for documentation checks and error messages.
func Fields(cfg any) []Field {
	t := reflect.TypeOf(cfg)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Field
	var walk func(t reflect.Type, envPrefix, path string)
	walk = func(t reflect.Type, envPrefix, path string) {
		for _, f := range fieldsOf(t) {
			p := join(path, f.name)
			fd := Field{Path: p}
			if f.env != "" {
				fd.Env = envPrefix + f.env
			}
			if f.nested {
				fd.Object = true
				out = append(out, fd)
				walk(f.typ, envPrefix+f.envPrefix, p)
				continue
			}
			out = append(out, fd)
		}
	}
	walk(t, EnvPrefix, "")
	return out
}

// field is one tagged struct field, embedded structs already flattened.
type field struct {
	name, env, envPrefix string
	index                []int
	typ                  reflect.Type
	nested               bool // a configuration object: decoded field by field
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// nestedStruct reports whether t is decoded field by field (a config object)
// rather than by encoding/json as a whole value.
func nestedStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshaler) &&
		!reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]())
}

func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			for _, inner := range fieldsOf(sf.Type) {
				inner.index = append([]int{i}, inner.index...)
				out = append(out, inner)
			}
			continue
		}
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		out = append(out, field{name: name, env: sf.Tag.Get("env"), envPrefix: sf.Tag.Get("envprefix"), index: []int{i}, typ: sf.Type, nested: nestedStruct(sf.Type)})
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// env reads every field's variable into v.
func (l *Loaded) env(v reflect.Value, prefix, path string, getenv func(string) string) {
	for _, f := range fieldsOf(v.Type()) {
		fv := v.FieldByIndex(f.index)
		p := join(path, f.name)
		if f.nested {
			l.env(fv, prefix+f.envPrefix, p, getenv)
			continue
		}
		if f.env == "" {
			continue
		}
		name := prefix + f.env
		raw := strings.TrimSpace(getenv(name))
		if raw == "" {
			continue
		}
		if err := setText(fv, raw); err != nil {
			l.add("environment %s=%q %v", name, quoteShort(raw), err)
			continue
		}
		l.Set[p] = true
	}
}

// setText parses an environment value into a field of a simple kind.
func setText(fv reflect.Value, raw string) error {
	if fv.CanAddr() && fv.Addr().Type().Implements(textUnmarshaler) {
		if err := fv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(raw)); err != nil {
			return fmt.Errorf("is invalid: %v", err)
		}
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("is not a boolean; use true or false")
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return errors.New("is not a whole number")
		}
		fv.SetInt(n)
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return errors.New("is not a number")
		}
		fv.SetFloat(f)
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return errors.New("cannot be set from the environment")
		}
		var list []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		fv.Set(reflect.ValueOf(list))
	default:
		return errors.New("cannot be set from the environment")
	}
	return nil
}

// object decodes one JSON object onto the struct v, field by field.
func (l *Loaded) object(v reflect.Value, raw []byte, path string) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		where := "the event"
		if path != "" {
			where = fmt.Sprintf("field %q", path)
		}
		l.add("%s must be a JSON object {...}, got JSON %s", where, kindOf(raw))
		return
	}
	fields := fieldsOf(v.Type())
	byName := make(map[string]field, len(fields))
	for _, f := range fields {
		byName[f.name] = f
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		val := bytes.TrimSpace(obj[k])
		p := join(path, quoteShort(k))
		f, ok := byName[k]
		if !ok {
			l.unknown(k, path, fields)
			continue
		}
		if string(val) == "null" {
			l.add("field %q is null; remove it to use the default, or give a value", p)
			continue
		}
		fv := v.FieldByIndex(f.index)
		if f.nested {
			l.object(fv, val, p)
			l.Set[p], l.Event[p] = true, true
			continue
		}
		fresh := reflect.New(fv.Type()) // replace, never merge, lists and maps
		if err := json.Unmarshal(val, fresh.Interface()); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				l.add("field %q must be %s, got JSON %s", p, kindName(fv.Type()), kindOf(val))
			} else {
				l.add("field %q: %v", p, err)
			}
			continue
		}
		fv.Set(fresh.Elem())
		l.Set[p], l.Event[p] = true, true
	}
}

func (l *Loaded) unknown(k, path string, fields []field) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
		if strings.EqualFold(f.name, k) {
			l.add("field %q is unknown: field names are case-sensitive; did you mean %q?", join(path, quoteShort(k)), join(path, f.name))
			return
		}
	}
	sort.Strings(names)
	where := "known fields"
	if path != "" {
		where = fmt.Sprintf("known fields of %q", path)
	}
	l.add("field %q is unknown; %s: %s", join(path, quoteShort(k)), where, strings.Join(names, ", "))
}

// checkSyntax walks the whole event once: valid JSON, one value, an
// object at the top, no duplicate key in any object, nesting within
// MaxDepth. Errors name the byte offset.
func checkSyntax(b []byte) error {
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("the event is not valid JSON: %v (at byte %d); send one JSON object such as {\"repository\":\"essnap\"}", se, se.Offset)
		}
		if err != nil {
			return fmt.Errorf("the event is not valid JSON: %v; send one JSON object such as {\"repository\":\"essnap\"}", err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		keys      map[string]bool
		expectKey bool
	}
	var stack []*frame
	first := true
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("the event is not valid JSON: %v (at byte %d); send one JSON object such as {\"repository\":\"essnap\"}", se, se.Offset)
			}
			return fmt.Errorf("the event is not valid JSON near byte %d: %v; send one JSON object such as {\"repository\":\"essnap\"}", dec.InputOffset(), err)
		}
		if first {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return fmt.Errorf("the event must be a JSON object {...}, got %s", kindOfToken(tok))
			}
			first = false
		} else if len(stack) == 0 {
			return fmt.Errorf("the event holds more than one JSON value (the second starts at byte %d); send one JSON object", off)
		}
		top := (*frame)(nil)
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.expectKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return fmt.Errorf("the event has the key %q twice in one object (the second at byte %d); give each field once", quoteShort(k), off)
				}
				top.keys[k] = true
				top.expectKey = false
				continue
			}
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{', '[':
				if top != nil && top.keys != nil {
					top.expectKey = true
				}
				if len(stack) >= MaxDepth {
					return fmt.Errorf("the event nests deeper than %d levels (at byte %d); essnap events are flat objects", MaxDepth, off)
				}
				f := &frame{}
				if d == '{' {
					f.keys, f.expectKey = map[string]bool{}, true
				}
				stack = append(stack, f)
			case '}', ']':
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].keys != nil {
					stack[len(stack)-1].expectKey = true
				}
			}
		default:
			if top != nil && top.keys != nil {
				top.expectKey = true
			}
		}
	}
	return nil
}

func kindOfToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array [...]"
		}
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func kindName(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean (true/false)"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// ShortLen is how much of a long value an error message quotes.
const ShortLen = 64

// quoteShort cuts s to ShortLen bytes (on a rune boundary) for messages, so
// a megabyte value never reaches a log line.
func quoteShort(s string) string {
	if len(s) <= ShortLen {
		return s
	}
	cut := ShortLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s...(%d bytes)", s[:cut], len(s))
}

// Short is quoteShort for callers' own messages about event values.
func Short(s string) string { return quoteShort(s) }

// MaxListed bounds how many names a message lists: a refusal naming
// thousands of indices would outgrow what Step Functions keeps of an
// error's cause (32,768 characters) and read no better.
const MaxListed = 20

// ShortList joins the first MaxListed items with ", " and says how many
// more there are.
func ShortList(items []string) string {
	if len(items) <= MaxListed {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:MaxListed], ", "), len(items)-MaxListed)
}
