package snapshot

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/essnap/essnap/pkg/config"
	"github.com/essnap/essnap/pkg/failure"
)

// SystemIndexPatterns are left out of restores unless asked for: with
// fine-grained access control their restore fails, and restoring them over a
// live domain would replace its dashboards and security configuration.
var SystemIndexPatterns = []string{
	".kibana*", ".opendistro*", ".opensearch*", ".plugins-*", ".security*",
	".tasks", ".geoip_databases", ".async-search*", ".ql-datasources", ".reporting-*",
	// essnap's own migration ledger (pkg/ledger) never travels with the user's indices.
	".essnap-*",
}

// IsSystem reports whether an index is one of SystemIndexPatterns: never
// selected with the user's indices.
func IsSystem(index string) bool { return matchAny(index, SystemIndexPatterns) }

// IndexMapping is one restored index: where it comes from and its new name.
type IndexMapping struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

// StatusAlias is the Collision status of a target name an alias holds:
// the engine refuses to create an index under an alias's name.
const StatusAlias = "alias"

// Collision is a target name that is already taken on the domain, by an
// index (Status open or close) or by an alias (StatusAlias).
type Collision struct {
	Index  string `json:"index"`
	Source string `json:"source"`
	Status string `json:"status"` // open, close or alias
	// AliasOf lists the indices behind an alias collision, when known.
	AliasOf []string `json:"alias_of,omitempty"`
}

// RestorePlan is what a restore will do, computed before anything is sent.
type RestorePlan struct {
	Indices       []IndexMapping `json:"indices"`
	SkippedSystem []string       `json:"skipped_system_indices,omitempty"`
	Collisions    []Collision    `json:"collisions,omitempty"`
}

// Targets lists the restored index names.
func (p RestorePlan) Targets() []string {
	out := make([]string, len(p.Indices))
	for i, m := range p.Indices {
		out[i] = m.Target
	}
	return out
}

// Sources lists the snapshot index names to restore.
func (p RestorePlan) Sources() []string {
	out := make([]string, len(p.Indices))
	for i, m := range p.Indices {
		out[i] = m.Source
	}
	return out
}

// matchAny reports whether name matches one of the wildcard patterns.
func matchAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// SelectIndices resolves engine-style index expressions (wildcards, and
// exclusions written -pattern, applied in order) against a snapshot's
// indices. Empty, "*" and "_all" select everything; a list that starts
// with an exclusion starts from everything. A concrete name that
// the snapshot lacks is an error, so a typo never restores nothing silently.
func SelectIndices(available, exprs []string) ([]string, error) {
	out, missing, err := MatchIndices(available, exprs)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("indices %s are not in the snapshot; it holds %d indices (list them with the list operation) — check the names or use a wildcard", strings.Join(missing, ", "), len(available))
	}
	return out, nil
}

// MatchIndices is the matching SelectIndices and take-snapshot share, so
// that a snapshot's selection and a restore's are decided by one rule. It
// returns the selected names, sorted, and the concrete names (no wildcard)
// that matched nothing; the caller decides whether those are an error (a
// restore: always; a snapshot: unless ignore_unavailable).
func MatchIndices(available, exprs []string) (selected, missing []string, err error) {
	if len(exprs) == 0 {
		exprs = []string{"*"}
	}
	chosen := map[string]bool{}
	for i, e := range exprs {
		e = strings.TrimSpace(e)
		if e == "_all" {
			e = "*"
		}
		if e == "" {
			return nil, nil, fmt.Errorf("indices[%d] is empty; remove it or give an index pattern such as logs-*", i)
		}
		if strings.HasPrefix(e, "-") {
			if i == 0 { // a leading exclusion means "everything except", as in the engine
				for _, n := range available {
					chosen[n] = true
				}
			}
			for n := range chosen {
				if ok, _ := path.Match(e[1:], n); ok {
					delete(chosen, n)
				}
			}
			continue
		}
		if _, err := path.Match(e, ""); err != nil {
			return nil, nil, fmt.Errorf("indices[%d] %q is not a valid pattern: %v", i, config.Short(e), err)
		}
		found := false
		for _, n := range available {
			if ok, _ := path.Match(e, n); ok {
				chosen[n], found = true, true
			}
		}
		if !found && !strings.ContainsAny(e, "*?[") {
			missing = append(missing, e)
		}
	}
	selected = make([]string, 0, len(chosen))
	for n := range chosen {
		selected = append(selected, n)
	}
	sort.Strings(selected)
	return selected, missing, nil
}

// systemTargetPatterns are the names no rename may produce unless system
// indices are included: the system patterns, and .plugins* whole (the
// security plugin's and others' state).
var systemTargetPatterns = append([]string{".plugins*"}, SystemIndexPatterns...)

// hiddenTarget reports whether renaming src to dst makes a system or hidden
// index name: a system name (.kibana*, .opendistro*, .plugins*,
// .security*, .opensearch*, ...), or a leading dot on an index that had
// none. A hidden source keeps its dot under a rename (.audit -> .audit-r).
func hiddenTarget(src, dst string) bool {
	if dst == src {
		return false
	}
	return matchAny(dst, systemTargetPatterns) || strings.HasPrefix(dst, ".") && !strings.HasPrefix(src, ".")
}

// PlanRestore is the pure part of a restore: which indices, under which
// names, and which of those names are already taken (existing maps a taken
// name to its Collision status: an index's open or close, or StatusAlias;
// Ops.TakenNames builds it). It refuses renames that merge indices or make
// invalid names.
func PlanRestore(snapshotIndices, exprs []string, includeSystem bool, rn *Renamer, existing map[string]string) (RestorePlan, error) {
	var plan RestorePlan
	chosen, err := SelectIndices(snapshotIndices, exprs)
	if err != nil {
		return plan, err
	}
	byTarget := map[string]string{}
	var invalid, hidden []string
	for _, src := range chosen {
		if !includeSystem && matchAny(src, SystemIndexPatterns) {
			plan.SkippedSystem = append(plan.SkippedSystem, src)
			continue
		}
		dst := rn.Apply(src)
		if err := ValidateIndexName(dst); err != nil {
			invalid = append(invalid, fmt.Sprintf("%s -> %v", src, err))
			continue
		}
		if !includeSystem && hiddenTarget(src, dst) {
			// A rename onto a dot name would write into (or create) a
			// system or hidden index: the domain's dashboards, security
			// or plugin state. Only an explicit opt-in may do that.
			hidden = append(hidden, fmt.Sprintf("%s -> %s", src, config.Short(dst)))
			continue
		}
		if other, dup := byTarget[dst]; dup {
			return plan, fmt.Errorf("indices [%s] and [%s] would both be renamed to [%s]; change the rename so each name stays unique", other, src, dst)
		}
		byTarget[dst] = src
		plan.Indices = append(plan.Indices, IndexMapping{Source: src, Target: dst})
		if st, ok := existing[dst]; ok {
			plan.Collisions = append(plan.Collisions, Collision{Index: dst, Source: src, Status: st})
		}
	}
	if len(invalid) > 0 {
		return plan, fmt.Errorf("the rename makes invalid index names: %s", strings.Join(invalid, "; "))
	}
	if len(hidden) > 0 {
		return plan, fmt.Errorf("the rename makes system or hidden index names (a leading '.', as .kibana*, .opendistro*, .plugins*, .security*, .opensearch*): %s; restoring onto such names can replace the domain's dashboards or security configuration: rename to a name without a leading dot, or set include_system_indices=true if this is really meant", strings.Join(hidden, "; "))
	}
	if len(plan.Indices) == 0 {
		return plan, fmt.Errorf("nothing to restore: the patterns %v select no index of the snapshot (system indices skipped: %v)", exprs, plan.SkippedSystem)
	}
	return plan, nil
}

// CollisionError lists every index a restore would collide with, so the
// operator sees all of them at once instead of one engine error per try.
type CollisionError struct {
	Repository, Snapshot string
	Collisions           []Collision
}

// Is makes a CollisionError match failure.ErrIndexConflict, so failure
// types it without knowing this package.
func (e *CollisionError) Is(target error) bool { return target == failure.ErrIndexConflict }

func (e *CollisionError) Error() string {
	names := make([]string, len(e.Collisions))
	aliases := 0
	for i, c := range e.Collisions {
		held := c.Status
		if c.Status == StatusAlias {
			aliases++
			if len(c.AliasOf) > 0 {
				held = "alias of " + strings.Join(c.AliasOf, ", ")
			}
		}
		names[i] = fmt.Sprintf("%s (from %s, %s)", c.Index, c.Source, held)
	}
	if aliases == 0 {
		return fmt.Sprintf("restore %s/%s refused: %d target indices already exist: %s; rename the restore (rename_suffix \"-restored\"), pick other indices, or delete/close those indices first", e.Repository, e.Snapshot, len(names), config.ShortList(names))
	}
	return fmt.Sprintf("restore %s/%s refused: %d target names are taken (%d by aliases, which the engine refuses as index names): %s; rename the restore (rename_suffix \"-restored\"), pick other indices, or remove those aliases and delete/close those indices first", e.Repository, e.Snapshot, len(names), aliases, config.ShortList(names))
}
