package snapshot

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/essnap/essnap/pkg/config"
)

// Rename is how restored indices are named. Either Pattern with Replacement
// (Java regex semantics, as the engine applies them), or Prefix/Suffix,
// which essnap turns into a safe pattern. All empty keeps the names.
type Rename struct {
	Pattern     string `json:"rename_pattern,omitempty"`
	Replacement string `json:"rename_replacement,omitempty"`
	Prefix      string `json:"rename_prefix,omitempty"`
	Suffix      string `json:"rename_suffix,omitempty" env:"RESTORE_RENAME_SUFFIX"`
}

// Renamer applies a validated Rename exactly as the engine will, so collisions
// can be found before the restore is sent.
type Renamer struct {
	re          *regexp.Regexp
	pattern     string
	replacement string
	parts       []replPart
}

// replPart is one piece of a parsed Java replacement: literal text or a group.
type replPart struct {
	lit   string
	group int // -1 for literal
}

// Enabled reports whether any renaming was asked for.
func (r Rename) Enabled() bool {
	return r.Pattern != "" || r.Replacement != "" || r.Prefix != "" || r.Suffix != ""
}

// Compile validates the rename and returns a Renamer (nil when disabled).
// Every problem names the field and a working alternative: the widely copied
// rename_pattern "*" is not a regex, and ".*" renames "logs" to "r_logsr_".
func (r Rename) Compile() (*Renamer, error) {
	if !r.Enabled() {
		return nil, nil
	}
	const fix = `use rename_pattern "(.+)" with rename_replacement "$1-restored", or rename_suffix "-restored"`
	for _, f := range []struct{ name, val string }{
		{"rename_pattern", r.Pattern}, {"rename_replacement", r.Replacement}, {"rename_prefix", r.Prefix}, {"rename_suffix", r.Suffix},
	} {
		if len(f.val) > MaxNameBytes {
			return nil, fmt.Errorf("%s %q is %d bytes; a rename part longer than an index name (%d bytes) cannot make a valid name", f.name, config.Short(f.val), len(f.val), MaxNameBytes)
		}
		if i, c, ok := controlChar(f.val); ok {
			return nil, fmt.Errorf("%s %q must not contain control characters (%U at byte %d): renamed indices would carry them", f.name, config.Short(f.val), c, i)
		}
	}
	if (r.Prefix != "" || r.Suffix != "") && (r.Pattern != "" || r.Replacement != "") {
		return nil, errors.New("rename_prefix/rename_suffix cannot be combined with rename_pattern/rename_replacement; use one or the other")
	}
	pattern, repl := r.Pattern, r.Replacement
	if r.Prefix != "" || r.Suffix != "" {
		pattern, repl = "(.+)", quoteJavaReplacement(r.Prefix)+"$1"+quoteJavaReplacement(r.Suffix)
		if r.Suffix != "" && r.Suffix[0] >= '0' && r.Suffix[0] <= '9' {
			repl = quoteJavaReplacement(r.Prefix) + "$1\\" + r.Suffix[:1] + quoteJavaReplacement(r.Suffix[1:])
		}
	}
	switch {
	case pattern == "":
		return nil, fmt.Errorf("rename_replacement is set but rename_pattern is empty; the engine renames only when both are set: %s", fix)
	case repl == "":
		return nil, fmt.Errorf("rename_pattern is set but rename_replacement is empty; the engine renames only when both are set: %s", fix)
	}
	if strings.ContainsAny(pattern[:1], "*+?{") {
		return nil, fmt.Errorf("rename_pattern %q is not a valid regular expression (the engine says: Dangling meta character '%c'); %s", pattern, pattern[0], fix)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("rename_pattern %q does not compile (essnap accepts the RE2 subset of Java regex, no look-arounds or back-references): %v; %s", pattern, err, fix)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("rename_pattern %q matches the empty string, so the engine also replaces the empty match at the end of each name (\"logs\" -> \"r_logsr_\" with \"r_$0\"); %s", pattern, fix)
	}
	parts, err := parseJavaReplacement(repl, re.NumSubexp(), re.SubexpNames())
	if err != nil {
		return nil, fmt.Errorf("rename_replacement %q: %v; %s", repl, err, fix)
	}
	return &Renamer{re: re, pattern: pattern, replacement: repl, parts: parts}, nil
}

// EngineFields returns the rename_pattern and rename_replacement to send.
func (r *Renamer) EngineFields() (pattern, replacement string) {
	return r.pattern, r.replacement
}

// Apply renames one index as Java's String.replaceAll would.
func (r *Renamer) Apply(index string) string {
	if r == nil {
		return index
	}
	matches := r.re.FindAllStringSubmatchIndex(index, -1)
	if matches == nil {
		return index
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(index[last:m[0]])
		for _, p := range r.parts {
			if p.group < 0 {
				b.WriteString(p.lit)
			} else if m[2*p.group] >= 0 {
				b.WriteString(index[m[2*p.group]:m[2*p.group+1]])
			}
		}
		last = m[1]
	}
	b.WriteString(index[last:])
	return b.String()
}

// parseJavaReplacement follows java.util.regex.Matcher.appendReplacement:
// "\x" is a literal x, "$n" takes as many digits as still name a group,
// "${name}" names a group; anything else after "$" is an error.
func parseJavaReplacement(s string, groups int, names []string) ([]replPart, error) {
	var parts []replPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			i++
			if i >= len(s) {
				return nil, errors.New("character to be escaped is missing (trailing backslash)")
			}
			lit.WriteByte(s[i])
		case '$':
			i++
			if i >= len(s) {
				return nil, errors.New("illegal group reference: '$' at the end")
			}
			if s[i] == '{' {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return nil, errors.New("named capturing group is missing trailing '}'")
				}
				name := s[i+1 : i+end]
				g := -1
				for k, n := range names {
					if n == name && name != "" {
						g = k
					}
				}
				if g < 0 {
					return nil, fmt.Errorf("no group with name {%s}", name)
				}
				flush()
				parts = append(parts, replPart{group: g})
				i += end
				continue
			}
			if s[i] < '0' || s[i] > '9' {
				return nil, fmt.Errorf("illegal group reference %q; write $1 for the first group, or \\$ for a literal dollar", "$"+string(s[i]))
			}
			g := int(s[i] - '0')
			if g > groups {
				return nil, fmt.Errorf("no group %d in rename_pattern (it has %d); wrap the part to keep in parentheses", g, groups)
			}
			for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' && g*10+int(s[i+1]-'0') <= groups {
				i++
				g = g*10 + int(s[i]-'0')
			}
			flush()
			parts = append(parts, replPart{group: g})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}

func quoteJavaReplacement(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `$`, `\$`)
	return r.Replace(s)
}

// ValidateIndexName applies the engine's index-name rules, so a rename that
// produces an invalid name is refused before the restore.
func ValidateIndexName(name string) error {
	var probs []string
	switch {
	case name == "":
		return errors.New("index name is empty")
	case name == "." || name == "..":
		probs = append(probs, "must not be '.' or '..'")
	case strings.ContainsAny(name[:1], "-_+"):
		probs = append(probs, "must not start with '-', '_' or '+'")
	}
	if name != strings.ToLower(name) {
		probs = append(probs, "must be lowercase")
	}
	if i := strings.IndexAny(name, `\/*?"<>| ,#:`); i >= 0 {
		probs = append(probs, fmt.Sprintf("must not contain %q", name[i]))
	}
	if i, r, ok := controlChar(name); ok {
		probs = append(probs, fmt.Sprintf("must not contain control characters (%U at byte %d)", r, i))
	}
	if len(name) > MaxNameBytes {
		probs = append(probs, fmt.Sprintf("must be at most %d bytes (it is %d)", MaxNameBytes, len(name)))
	}
	if len(probs) > 0 {
		return fmt.Errorf("index name %q %s", config.Short(name), strings.Join(probs, "; "))
	}
	return nil
}
