package engine

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/essnap/essnap/pkg/failure"
)

// repositoryInfo is one repository as GET _snapshot lists it.
type repositoryInfo struct {
	Type     string         `json:"type"`
	Settings map[string]any `json:"settings"`
}

// location is where a repository's data lives, spelled so that two
// spellings of one place compare equal: fs locations and S3 base paths are
// cleaned (x/../y is y, trailing slashes dropped). ok is false for types
// and settings essnap cannot place (another plugin's repository type).
func location(typ string, settings map[string]any) (loc string, ok bool) {
	str := func(k string) string {
		if v, present := settings[k]; present && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	switch typ {
	case "fs":
		l := str("location")
		if l == "" {
			return "", false
		}
		return "fs:" + path.Clean(l), true
	case "s3":
		b := str("bucket")
		if b == "" {
			return "", false
		}
		return "s3://" + b + "/" + cleanKeyPath(str("base_path")), true
	}
	return "", false
}

// cleanKeyPath cleans an S3 key prefix: "", "/", "." and "a/.." are all
// the bucket's root.
func cleanKeyPath(p string) string {
	c := strings.Trim(path.Clean("/"+p), "/")
	return c
}

// readonlySetting reports whether settings register a repository readonly;
// engines echo the setting back as a string.
func readonlySetting(settings map[string]any) bool {
	return fmt.Sprint(settings["readonly"]) == "true"
}

// sharedLocation refuses a writable registration on a location another
// repository of the domain already uses: two writers corrupt a repository
// (each rewrites the index-N generation file the other relies on), and only
// readonly registrations may share a location. all is GET _snapshot.
func sharedLocation(spec RepositorySpec, all map[string]repositoryInfo) error {
	if readonlySetting(spec.Settings) {
		return nil
	}
	want, ok := location(spec.Type, spec.Settings)
	if !ok {
		return nil
	}
	var others []string
	for name, r := range all {
		if name == spec.Name {
			continue
		}
		if l, ok := location(r.Type, r.Settings); ok && l == want {
			mode := "writable"
			if readonlySetting(r.Settings) {
				mode = "readonly"
			}
			others = append(others, fmt.Sprintf("%s (%s, %s)", name, mode, describeLocation(r.Type, r.Settings)))
		}
	}
	if len(others) == 0 {
		return nil
	}
	sort.Strings(others)
	return fmt.Errorf("register %s: %w: its %s is already used by repository %s; a second writable repository on one location corrupts it (both write its index files): register %s with readonly=true, give it another location or base_path, or unregister %s first; nothing was changed",
		spec.Name, failure.ErrRepositoryConflict, describeLocation(spec.Type, spec.Settings), strings.Join(others, ", "), spec.Name, strings.Join(names(others), ", "))
}

// describeLocation prints a repository's location as its settings give it.
func describeLocation(typ string, settings map[string]any) string {
	if typ == "fs" {
		return fmt.Sprintf("fs location %v", settings["location"])
	}
	bp := ""
	if v, ok := settings["base_path"]; ok && v != nil {
		bp = fmt.Sprint(v)
	}
	return fmt.Sprintf("s3 bucket %v base_path %q", settings["bucket"], bp)
}

// names cuts the descriptions of sharedLocation back to repository names.
func names(described []string) []string {
	out := make([]string, len(described))
	for i, d := range described {
		out[i], _, _ = strings.Cut(d, " ")
	}
	return out
}
