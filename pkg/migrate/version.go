package migrate

import (
	"fmt"
	"strconv"
	"strings"
)

// Distributions as GET / reports them (engine.Version.Distribution).
const (
	Elasticsearch = "elasticsearch"
	OpenSearch    = "opensearch"
)

// Engine is one side of a migration, or the engine that created an index:
// distribution and version number.
type Engine struct {
	Distribution string `json:"distribution"`
	Number       string `json:"number"`
}

func (e Engine) String() string { return e.Distribution + " " + e.Number }

// semver is major.minor.patch; missing parts are 0.
type semver [3]int

func parseVersion(s string) (semver, error) {
	var v semver
	core, _, _ := strings.Cut(s, "-") // 7.10.2-SNAPSHOT, 2.19.1-rc1, 6.0.0-beta1
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

func (a semver) String() string { return fmt.Sprintf("%d.%d.%d", a[0], a[1], a[2]) }

// version is an engine version on one scale for both families:
// OpenSearch forked from Elasticsearch 7.10.2, so every OpenSearch version
// ranks above every Elasticsearch one, which is how the engines themselves
// order them (OpenSearch's LegacyESVersion).
type version struct {
	os bool
	v  semver
}

func (a version) less(b version) bool {
	if a.os != b.os {
		return b.os
	}
	return a.v.less(b.v)
}

func (a version) engine() Engine {
	if a.os {
		return Engine{OpenSearch, a.v.String()}
	}
	return Engine{Elasticsearch, a.v.String()}
}

func parseEngine(e Engine) (version, error) {
	v, err := parseVersion(e.Number)
	if err != nil {
		return version{}, err
	}
	switch normalize(e.Distribution) {
	case OpenSearch:
		return version{os: true, v: v}, nil
	case Elasticsearch:
		return version{v: v}, nil
	}
	return version{}, fmt.Errorf("unknown distribution %q; expected elasticsearch or opensearch", e.Distribution)
}

// openSearchMask is the bit OpenSearch sets in its own version ids
// (org.opensearch.Version.MASK), so that an OpenSearch id never equals an
// Elasticsearch one: 2.19.1 is 2190199 ^ 0x08000000 = 136407927.
const openSearchMask = 0x08000000

// DecodeVersionID turns an index's index.version.created (or a snapshot's
// version_id) into the engine that wrote it. Both families encode
// major*1000000 + minor*10000 + revision*100 + build; OpenSearch sets
// openSearchMask on top. Observed on the real engines: Elasticsearch 7.10.2
// 7100299, OpenSearch 1.3.1 135247927, 2.19.1 136407927, 3.5.0 137267827.
func DecodeVersionID(id int64) (Engine, error) {
	if id <= 0 {
		return Engine{}, fmt.Errorf("version id %d is not an engine version", id)
	}
	dist := Elasticsearch
	if id&openSearchMask != 0 {
		dist, id = OpenSearch, id^openSearchMask
	}
	major, minor, rev := id/1000000, id/10000%100, id/100%100
	if major == 0 || major > 99 {
		return Engine{}, fmt.Errorf("version id %d is not an engine version", id)
	}
	return Engine{dist, fmt.Sprintf("%d.%d.%d", major, minor, rev)}, nil
}

// MinIndexCompatibility is the oldest engine whose indices target can
// open, restore or upgrade: its own major version and the previous one.
// It is what GET / reports as minimum_index_compatibility_version (checked
// against every engine in the integration tests), computed here so the
// decision needs only the target's version: Elasticsearch N reads N-1.0;
// OpenSearch 1.x reads Elasticsearch 6.0, 2.x Elasticsearch 7.0, and N >= 3
// OpenSearch N-1.0.
func MinIndexCompatibility(target Engine) (Engine, error) {
	t, err := parseEngine(target)
	if err != nil {
		return Engine{}, err
	}
	switch {
	case !t.os:
		return version{v: semver{max(t.v[0]-1, 0), 0, 0}}.engine(), nil
	case t.v[0] <= 1:
		return version{v: semver{6, 0, 0}}.engine(), nil
	case t.v[0] == 2:
		return version{v: semver{7, 0, 0}}.engine(), nil
	}
	return version{os: true, v: semver{t.v[0] - 1, 0, 0}}.engine(), nil
}

// ParseMinIndexCompatibility reads minimum_index_compatibility_version as
// an engine of the given distribution reports it: OpenSearch reports an
// Elasticsearch version there while it still reads Elasticsearch indices
// ("7.0.0" on 2.x) and an OpenSearch one after (3.x: "2.0.0"), so a number
// of major 5 or more from OpenSearch is an Elasticsearch version.
func ParseMinIndexCompatibility(distribution, number string) (Engine, error) {
	v, err := parseVersion(number)
	if err != nil {
		return Engine{}, err
	}
	os := normalize(distribution) == OpenSearch && v[0] < 5
	return version{os: os, v: v}.engine(), nil
}

// lastOpenSearchReadable is the newest Elasticsearch whose snapshots
// OpenSearch restores: OpenSearch forked from 7.10.2.
var lastOpenSearchReadable = semver{7, 10, 2}

// CheckEngines refuses the migrations no index can make, whatever created
// it: to an older engine, or from OpenSearch to Elasticsearch. It returns
// nil or a reason naming both engines and the way out; the pre-flight turns
// a reason into a VersionMismatchError before anything is written (field
// notes §6.8: mismatches found mid-migration are what operators complain
// about). The per-index decision is DecideIndex.
func CheckEngines(source, target Engine) error {
	sv, err := parseEngine(source)
	if err != nil {
		return fmt.Errorf("source engine: %v", err)
	}
	tv, err := parseEngine(target)
	if err != nil {
		return fmt.Errorf("target engine: %v", err)
	}
	switch {
	case sv.os && !tv.os:
		return fmt.Errorf("the target %s cannot restore snapshots of the source %s: Elasticsearch does not read OpenSearch snapshots or indices; migrate to an OpenSearch domain at %s or newer", target, source, source.Number)
	case tv.less(sv):
		return fmt.Errorf("the target %s is older than the source %s: neither a snapshot nor a reindex can move indices to an older engine; upgrade the target to %s or newer", target, source, source)
	}
	return nil
}

// Verdict is how one index can reach the target.
type Verdict string

// The verdicts DecideIndex gives (issue 8; the reindex path is issue 12).
const (
	// Snapshot: the target restores the index from a snapshot.
	Snapshot Verdict = "snapshot"
	// Reindex: the target cannot read the index's files (created too long
	// ago, or the snapshot format is from a family it does not read); the
	// documents must be re-indexed.
	Reindex Verdict = "reindex"
	// Refused: no path: the target is older than the source or of the
	// wrong family.
	Refused Verdict = "refused"
)

// IndexCompat is one source index's verdict, with the version that
// created it, for the pre-flight report.
type IndexCompat struct {
	Index            string  `json:"index"`
	CreatedVersionID int64   `json:"created_version_id"`
	CreatedBy        Engine  `json:"created_by"`
	Verdict          Verdict `json:"verdict"`
	Reason           string  `json:"reason"`
	// Method is how the migration moves the index: the verdict, or
	// reindex where the operator forced it (ChooseMethods).
	Method Verdict `json:"method,omitempty"`
}

// Methods the pre-flight's method field takes.
const (
	// MethodAuto: each index by its verdict, snapshot where the target can
	// read the index, reindex where it cannot.
	MethodAuto = "auto"
	// MethodReindex: every index by reindex (e.g. to rewrite every index
	// with the target's own version, or when no shared repository exists).
	MethodReindex = "reindex"
)

// ChooseMethods sets each verdict's Method: the verdict itself, or reindex
// for every index that is not refused when method is MethodReindex.
func ChooseMethods(vs []IndexCompat, method string) {
	for i := range vs {
		vs[i].Method = vs[i].Verdict
		if method == MethodReindex && vs[i].Verdict == Snapshot {
			vs[i].Method = Reindex
		}
	}
}

// DecideIndex decides how index, created by the engine whose version id is
// createdID, moves from source to target. What decides is the index's own
// created version, not the source domain's engine: a domain upgraded in
// place from Elasticsearch 7.10 to OpenSearch 2.x still holds indices
// 7.10 created, which OpenSearch 3.x cannot read (field notes §8). Besides,
// OpenSearch 3.x reads no snapshot Elasticsearch took, and OpenSearch reads
// none of Elasticsearch after 7.10.2, whatever their indices.
func DecideIndex(source, target Engine, index string, createdID int64) IndexCompat {
	out := IndexCompat{Index: index, CreatedVersionID: createdID, Verdict: Refused}
	created, err := DecodeVersionID(createdID)
	if err != nil {
		out.Reason = fmt.Sprintf("index.version.created of %s: %v", index, err)
		return out
	}
	out.CreatedBy = created
	if err := CheckEngines(source, target); err != nil {
		out.Reason = err.Error()
		return out
	}
	sv, _ := parseEngine(source) // checked by CheckEngines
	tv, _ := parseEngine(target)
	cv, _ := parseEngine(created)
	minEngine, _ := MinIndexCompatibility(target)
	minv, _ := parseEngine(minEngine)
	switch {
	case cv.os && !tv.os:
		out.Reason = fmt.Sprintf("created by %s; Elasticsearch does not read OpenSearch indices", created)
	case tv.less(cv):
		out.Reason = fmt.Sprintf("created by %s, newer than the target %s; upgrade the target", created, target)
	case tv.os && !sv.os && tv.v[0] >= 3:
		out.Verdict = Reindex
		out.Reason = fmt.Sprintf("created by %s; %s reads no snapshot Elasticsearch took (\"must contain OpenSearch mask\"), so its documents must be re-indexed", created, target)
	case tv.os && !sv.os && lastOpenSearchReadable.less(sv.v):
		out.Verdict = Reindex
		out.Reason = fmt.Sprintf("the source %s is newer than Elasticsearch 7.10.2, whose snapshots are the newest OpenSearch reads; its documents must be re-indexed", source)
	case tv.os && !sv.os && tv.v[0] == 1 && sv.v.less(semver{6, 8, 0}):
		out.Verdict = Reindex
		out.Reason = fmt.Sprintf("the source %s is older than Elasticsearch 6.8, the oldest whose snapshots OpenSearch 1.x reads; its documents must be re-indexed", source)
	case cv.less(minv):
		out.Verdict = Reindex
		out.Reason = fmt.Sprintf("created by %s; %s reads only indices created by %s or later, so its documents must be re-indexed", created, target, minEngine)
	default:
		out.Verdict = Snapshot
		out.Reason = fmt.Sprintf("created by %s, which %s reads", created, target)
	}
	return out
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

// CheckVerdicts returns nil when every index has a path (snapshot or
// reindex), else one error that names every refused index, with its
// created version and the way out, so the operator sees all of them
// before anything is written.
func CheckVerdicts(source, target Engine, verdicts []IndexCompat) error {
	var refused []string
	for _, v := range verdicts {
		created := v.CreatedBy.String()
		if v.CreatedBy.Number == "" {
			created = "unknown version"
		}
		if v.Verdict == Refused {
			refused = append(refused, fmt.Sprintf("%s (created by %s)", v.Index, created))
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d selected indices cannot move to the target %s (source %s), by snapshot or reindex; refused: %s: %s; leave them out (indices: \"-<name>\")",
		len(refused), len(verdicts), target, source, strings.Join(refused, ", "), firstReason(verdicts))
}

func firstReason(vs []IndexCompat) string {
	for _, v := range vs {
		if v.Verdict == Refused {
			return v.Reason
		}
	}
	return ""
}
