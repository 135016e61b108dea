package engine

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/essnap/essnap/pkg/esclient"
	"github.com/essnap/essnap/pkg/failure"
)

// RepositoryInfo is one registered repository as GET _snapshot lists it
// (settings come back as strings).
type RepositoryInfo struct {
	Type     string         `json:"type"`
	Settings map[string]any `json:"settings"`
}

// Repositories lists every registered repository, AWS's cs-automated ones
// included.
func (o Ops) Repositories(ctx context.Context) (map[string]RepositoryInfo, error) {
	var all map[string]RepositoryInfo
	if err := o.C.Do(ctx, http.MethodGet, "/_snapshot", nil, nil, &all); err != nil {
		return nil, fmt.Errorf("list repositories: %w", err)
	}
	if all == nil {
		all = map[string]RepositoryInfo{}
	}
	return all, nil
}

// VerifyRepository asks every node to write to and read from the repository
// (POST _snapshot/<name>/_verify) and returns how many nodes did.
func (o Ops) VerifyRepository(ctx context.Context, name string) (int, error) {
	var ans struct {
		Nodes map[string]any `json:"nodes"`
	}
	p := esclient.Path("_snapshot", name, "_verify")
	if err := o.C.Do(esclient.WithIdempotent(ctx), http.MethodPost, p, nil, nil, &ans); err != nil {
		return 0, fmt.Errorf("verify repository %s: %w", name, err)
	}
	return len(ans.Nodes), nil
}

// RepositorySpec is a repository to register.
type RepositorySpec struct {
	Name     string
	Type     string // s3 or fs
	Settings map[string]any
	// Verify asks every node to write to the repository after registering.
	Verify bool
	// Replace allows re-pointing an existing repository (another location,
	// another type, readonly turned off); without it such a change is refused.
	Replace bool
}

// locationKeys are the settings that say where a repository's data lives.
var locationKeys = []string{"bucket", "base_path", "location", "region"}

// safeUpdate allows updates of tuning settings only: a change of type or
// location, or readonly turned off, needs Replace.
func safeUpdate(spec RepositorySpec, curType string, cur map[string]any) error {
	var changes []string
	if curType != spec.Type {
		changes = append(changes, fmt.Sprintf("type %s -> %s", curType, spec.Type))
	}
	for _, k := range locationKeys {
		if fmt.Sprint(cur[k]) != fmt.Sprint(spec.Settings[k]) && (cur[k] != nil || spec.Settings[k] != nil) {
			changes = append(changes, fmt.Sprintf("%s %v -> %v", k, orNone(cur[k]), orNone(spec.Settings[k])))
		}
	}
	if fmt.Sprint(cur["readonly"]) == "true" && fmt.Sprint(spec.Settings["readonly"]) != "true" {
		changes = append(changes, "readonly true -> false (two writers on one location corrupt a repository)")
	}
	if len(changes) == 0 {
		return nil
	}
	return fmt.Errorf("register %s: %w: it exists with other settings (%s); nothing was changed; set replace=true to re-point it, or use another repository name", spec.Name, failure.ErrRepositoryConflict, strings.Join(changes, "; "))
}

func orNone(v any) any {
	if v == nil {
		return "(none)"
	}
	return v
}

// RegisterResult says what registration changed.
type RegisterResult struct {
	Repository  string `json:"repository"`
	Status      string `json:"status"` // created, updated or unchanged
	Verified    bool   `json:"verified"`
	VerifyError string `json:"verify_error,omitempty"`
	// VerifyAttempts is how many POST _verify requests were sent, counted
	// by the transport (its own repeats included), so a message about a
	// failed verification can say truthfully how often it was tried.
	VerifyAttempts int `json:"verify_attempts,omitempty"`
	// VerifyCause is the engine's refusal of the last verification (the
	// error behind VerifyError), so callers can type it.
	VerifyCause error `json:"-"`
}

// RegisterRepository registers a repository idempotently: an identical one
// is left alone, a different one updated. Registration itself never verifies
// (on AWS a failed verification can leave the repository registered anyway);
// verification runs after, retried once, and is reported separately.
func (o Ops) RegisterRepository(ctx context.Context, spec RepositorySpec) (RegisterResult, error) {
	res := RegisterResult{Repository: spec.Name}
	p := esclient.Path("_snapshot", spec.Name)
	// Every repository, not only this one: a writable registration must not
	// share its location with another repository (sharedLocation).
	var all map[string]repositoryInfo
	if err := o.C.Do(ctx, http.MethodGet, "/_snapshot", nil, nil, &all); err != nil {
		return res, fmt.Errorf("register %s: read current repositories: %w", spec.Name, err)
	}
	c, ok := all[spec.Name]
	switch {
	case !ok:
		res.Status = "created"
	case c.Type == spec.Type && sameSettings(c.Settings, spec.Settings):
		res.Status = "unchanged"
	case !spec.Replace:
		if err := safeUpdate(spec, c.Type, c.Settings); err != nil {
			return res, err
		}
		res.Status = "updated"
	default:
		res.Status = "updated"
	}
	if res.Status != "unchanged" {
		if err := sharedLocation(spec, all); err != nil {
			return res, err
		}
		body := map[string]any{"type": spec.Type, "settings": spec.Settings}
		q := url.Values{"verify": {"false"}}
		if err := o.C.Do(esclient.WithIdempotent(ctx), http.MethodPut, p, q, body, nil); err != nil {
			return res, fmt.Errorf("register %s: %w", spec.Name, err)
		}
	}
	if spec.Verify {
		var verr error
		// Verification only writes and deletes a test file: the transport may
		// repeat it after a lost answer like any read (its repeatOn table),
		// and counts what it sends, so a message says how often it was tried.
		vctx, sent := esclient.WithAttemptCount(esclient.WithIdempotent(ctx))
		for attempt := 0; attempt < verifyAttempts; attempt++ {
			if verr = o.C.Do(vctx, http.MethodPost, p+"/_verify", nil, nil, nil); verr == nil {
				res.Verified = true
				break
			}
			if !verificationRan(verr) || !esclient.IsType(verr, "repository_verification_exception") || ctx.Err() != nil {
				break
			}
		}
		res.VerifyAttempts = int(sent.Load())
		if verr != nil && !res.Verified {
			if !verificationRan(verr) {
				return res, fmt.Errorf("register %s: the repository is registered (%s), but %w: %s POST %s/_verify got no answer from the engine itself, so this says nothing about the repository's storage or permissions; rerunning is safe (registration is idempotent); the last failure: %w",
					spec.Name, res.Status, failure.ErrVerifyNotRun, attemptsText(res.VerifyAttempts), p, verr)
			}
			res.VerifyError = verr.Error()
			res.VerifyCause = verr
		}
	}
	return res, nil
}

// verificationRan reports whether err is the engine's own answer to a
// verification, as opposed to no answer: a network error, a timeout, 429,
// 502, 503, 504, or a 5xx whose body is not the engine's (a proxy's page).
func verificationRan(err error) bool {
	var ae *esclient.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch {
	case ae.Status == http.StatusTooManyRequests, ae.Status == http.StatusBadGateway,
		ae.Status == http.StatusServiceUnavailable, ae.Status == http.StatusGatewayTimeout:
		return false
	case ae.Status >= 500 && ae.Source != esclient.SourceEngine:
		return false
	}
	return true
}

// attemptsText says how many requests were sent, for messages.
func attemptsText(n int) string {
	if n == 1 {
		return "1 attempt of"
	}
	return fmt.Sprintf("%d attempts of", n)
}

// verifyAttempts is how often registration verifies a repository. It is
// not a transient-error rule and so not part of pkg/failure's declaration
// or the transport's table: repository_verification_exception is final in
// general (the SnapshotRole cannot reach the bucket), but right after a
// registration AWS can fail the first verification while the domain's view
// of the role settles, so this one operation asks once more and reports a
// second failure (RegisterResult.VerifyError) instead of an error type.
const verifyAttempts = 2

// sameSettings compares settings as strings, since engines echo every
// setting back as a string ("readonly":"true").
func sameSettings(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if fmt.Sprint(a[k]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}
