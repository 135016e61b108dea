package migrate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	// OpenSearch 3.x restoring a snapshot that holds an index Elasticsearch
	// created: 400 illegal_argument_exception (observed on 3.5.0); the
	// engine names no index, and nothing is restored.
	maskRefusal = regexp.MustCompile(`Version id (\d+) must contain OpenSearch mask`)
	// An index older than the engine's minimum_index_compatibility_version:
	// 500 snapshot_restore_exception "cannot restore index [x] because it
	// cannot be upgraded", caused by "The index [[x/uuid]] was created with
	// version [1.3.1] but the minimum compatible version is [2.0.0]. It
	// should be re-indexed in OpenSearch 2.x before upgrading to 3.5.0."
	upgradeRefusal = regexp.MustCompile(`cannot restore index \[([^\]]+)\] because it cannot be upgraded`)
	createdWith    = regexp.MustCompile(`was created with version \[([^\]]+)\] but the minimum compatible version is \[([^\]]+)\]`)
)

// TooOldToRestore recognises an engine's refusal to restore an index it
// cannot read because an older engine created it, and returns the
// operator's message: which index, which version created it, and that it
// must be re-indexed. requested are the indices the restore asked for, named
// when the engine itself names none. ok is false for any other refusal.
func TooOldToRestore(reason, causedBy string, requested []string) (msg string, ok bool) {
	text := reason + " " + causedBy
	if m := maskRefusal.FindStringSubmatch(text); m != nil {
		created := "an Elasticsearch version"
		if id, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			if e, err := DecodeVersionID(id); err == nil {
				created = e.String()
			}
		}
		return fmt.Sprintf("the engine refused the restore (%q): the snapshot holds an index created by %s, and OpenSearch 3.x reads no index Elasticsearch created; among the requested indices (%s), re-index those created by Elasticsearch (remote reindex on this domain, POST _reindex with source.remote, from a domain that holds them) or restore them on an OpenSearch 2.x domain; leave them out (indices: \"-<name>\") to restore the rest; nothing was restored",
			m[0], created, strings.Join(requested, ", ")), true
	}
	if m := upgradeRefusal.FindStringSubmatch(text); m != nil {
		detail := ""
		if c := createdWith.FindStringSubmatch(text); c != nil {
			detail = fmt.Sprintf(": it was created by version %s and this engine reads indices created by %s or later", c[1], c[2])
		}
		return fmt.Sprintf("the engine cannot read index %s%s; re-index it (remote reindex on this domain, POST _reindex with source.remote, from a domain that holds it) or restore it on an engine one major version newer than the one that created it; leave it out (indices: \"-%s\") to restore the rest; nothing was restored", m[1], detail, m[1]), true
	}
	return "", false
}
