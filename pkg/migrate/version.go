package migrate

import (
	"fmt"
	"strconv"
	"strings"
)

// Distributions as GET / reports them (snapshot.Version.Distribution).
const (
	Elasticsearch = "elasticsearch"
	OpenSearch    = "opensearch"
)

// Engine is one side of a migration: distribution and version number.
type Engine struct {
	Distribution string `json:"distribution"`
	Number       string `json:"number"`
}

func (e Engine) String() string { return e.Distribution + " " + e.Number }

// semver is major.minor.patch; missing parts are 0.
type semver [3]int

func parseVersion(s string) (semver, error) {
	var v semver
	core, _, _ := strings.Cut(s, "-") // 7.10.2-SNAPSHOT, 2.19.1-rc1
	parts := strings.Split(core, ".")
	if core == "" || len(parts) > 3 {
		return v, fmt.Errorf("version %q is not major.minor.patch", s)
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, fmt.Errorf("version %q is not major.minor.patch", s)
		}
		v[i] = n
	}
	return v, nil
}

func (a semver) less(b semver) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// lastOpenSearchReadable is the newest Elasticsearch whose snapshots
// OpenSearch restores: OpenSearch forked from 7.10.2.
var lastOpenSearchReadable = semver{7, 10, 2}

// CheckVersions decides whether target can restore a snapshot taken on
// source. It returns nil, or a reason naming both engines and the way out;
// the preflight handler turns a reason into a VersionMismatchError so the
// workflow stops before anything is written (field notes §5 and §6.8:
// mismatches found mid-migration are what operators complain about).
//
// Rules: a snapshot is readable by the same engine line at the same or a
// newer version and at most one major version newer; Elasticsearch up to
// 7.10.2 is readable by OpenSearch (1.x needs 6.8+, 2.x and later need 7.x,
// since OpenSearch 2 cannot restore indices created before 7.0);
// Elasticsearch never reads OpenSearch snapshots.
func CheckVersions(source, target Engine) error {
	sv, err := parseVersion(source.Number)
	if err != nil {
		return fmt.Errorf("source engine: %v", err)
	}
	tv, err := parseVersion(target.Number)
	if err != nil {
		return fmt.Errorf("target engine: %v", err)
	}
	src, tgt := normalize(source.Distribution), normalize(target.Distribution)
	if src == "" || tgt == "" {
		return fmt.Errorf("unknown distribution (source %q, target %q); expected elasticsearch or opensearch", source.Distribution, target.Distribution)
	}
	switch {
	case src == OpenSearch && tgt == Elasticsearch:
		return fmt.Errorf("the target %s cannot restore snapshots of the source %s: Elasticsearch does not read OpenSearch snapshots; migrate to an OpenSearch domain at %s or newer", target, source, source.Number)
	case src == Elasticsearch && tgt == OpenSearch:
		if lastOpenSearchReadable.less(sv) {
			return fmt.Errorf("the target %s cannot restore snapshots of the source %s: OpenSearch reads Elasticsearch snapshots up to 7.10.2 only", target, source)
		}
		if tv[0] >= 2 && sv[0] < 7 {
			return fmt.Errorf("the target %s cannot restore indices of the source %s: OpenSearch 2 and later need indices created by Elasticsearch 7.x; migrate through an OpenSearch 1.x domain or reindex on the source first", target, source)
		}
		if tv[0] == 1 && sv.less(semver{6, 8, 0}) {
			return fmt.Errorf("the target %s cannot restore snapshots of the source %s: OpenSearch 1.x reads Elasticsearch 6.8 and later", target, source)
		}
		return nil
	}
	if tv.less(sv) {
		return fmt.Errorf("the target %s is older than the source %s: a snapshot cannot be restored on an older engine; upgrade the target to %s or newer", target, source, source.Number)
	}
	if tv[0] > sv[0]+1 {
		return fmt.Errorf("the target %s is more than one major version newer than the source %s: it cannot read the source's indices; migrate through %s %d.x first", target, source, target.Distribution, sv[0]+1)
	}
	return nil
}

func normalize(d string) string {
	switch strings.ToLower(strings.TrimSpace(d)) {
	case "", Elasticsearch, "oss", "default":
		return Elasticsearch
	case OpenSearch:
		return OpenSearch
	}
	return ""
}
