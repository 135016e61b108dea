//go:build integration

package workflow

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// written is one acknowledged document: its _id and where it went.
type written struct {
	ID, Dest string
}

// writer is the ingestion that keeps running during a migration: it bulk
// indexes documents with known _ids into one index name on its current
// destination (a shipper or a poller), and can be switched to another
// domain at any moment, as an operator switches shippers or a poller.
type writer struct {
	t     *testing.T
	index string
	mu    sync.Mutex
	dest  string
	next  int
	log   []written
	stop  chan struct{}
	done  chan struct{}
	err   error
}

func startWriter(t *testing.T, dest, index string) *writer {
	w := &writer{t: t, index: index, dest: dest, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	t.Cleanup(func() { w.Stop() })
	return w
}

func (w *writer) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		w.mu.Lock()
		err := w.batchLocked(w.dest, 50)
		w.mu.Unlock()
		if err != nil {
			w.err = err
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// batchLocked writes n new documents to dest; only acknowledged ones count.
func (w *writer) batchLocked(dest string, n int) error {
	var b strings.Builder
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("doc-%07d", w.next+i)
		fmt.Fprintf(&b, "{\"index\":{\"_id\":%q}}\n{\"message\":\"event %s\",\"@timestamp\":%q}\n", ids[i], ids[i], time.Now().UTC().Format(time.RFC3339Nano))
	}
	items, err := bulk(dest+"/"+w.index+"/_bulk", b.String())
	if err != nil {
		return err
	}
	for i, it := range items {
		if it.Status > 299 {
			return fmt.Errorf("document %s: status %d", ids[i], it.Status)
		}
		w.log = append(w.log, written{ID: ids[i], Dest: dest})
	}
	w.next += n
	return nil
}

type bulkItem struct {
	Status int `json:"status"`
}

// bulk sends one _bulk request as a shipper does: a 429 (the target's
// write queue is full, as under a migration's load) is retried with the
// same body after a pause, for up to a minute; the documents have fixed
// _ids, so a resent index is the same document and a resent create a 409.
func bulk(url, body string) ([]bulkItem, error) {
	for attempt := 0; ; attempt++ {
		items, status, err := bulkOnce(url, body)
		rejected := status == http.StatusTooManyRequests
		for _, it := range items {
			rejected = rejected || it.Status == http.StatusTooManyRequests
		}
		if !rejected || attempt == 120 {
			return items, err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func bulkOnce(url, body string) ([]bulkItem, int, error) {
	res, err := http.Post(url, "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	defer res.Body.Close()
	var ans struct {
		Items []map[string]bulkItem `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&ans); err != nil || res.StatusCode != 200 {
		return nil, res.StatusCode, fmt.Errorf("bulk %s: %d %v", url, res.StatusCode, err)
	}
	out := make([]bulkItem, len(ans.Items))
	for i, it := range ans.Items {
		for _, v := range it {
			out[i] = v
		}
	}
	return out, res.StatusCode, nil
}

// Fill writes n documents synchronously (the history before the migration).
func (w *writer) Fill(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for n > 0 {
		k := min(n, 1000)
		if err := w.batchLocked(w.dest, k); err != nil {
			w.t.Fatal(err)
		}
		n -= k
	}
}

// Switch points the writer at another domain; returns how many documents
// were written before.
func (w *writer) Switch(dest string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dest = dest
	return len(w.log)
}

// Replay re-sends, with op_type create, every document written to from
// since the mark to `to`: a poller restarting on a new domain from its
// checkpoint, dropping documents whose index and _id already exist.
func (w *writer) Replay(from, to string, mark int) (sent, dropped int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	flush := func() {
		if b.Len() == 0 {
			return
		}
		items, err := bulk(to+"/"+w.index+"/_bulk", b.String())
		if err != nil {
			w.t.Fatal(err)
		}
		for _, it := range items {
			switch {
			case it.Status == 409:
				dropped++
			case it.Status > 299:
				w.t.Fatalf("replay: status %d", it.Status)
			default:
				sent++
			}
		}
		b.Reset()
	}
	for i, d := range w.log[mark:] {
		if d.Dest != from {
			continue
		}
		fmt.Fprintf(&b, "{\"create\":{\"_id\":%q}}\n{\"message\":\"event %s\"}\n", d.ID, d.ID)
		if i%1000 == 999 {
			flush()
		}
	}
	flush()
	for i := range w.log {
		if i >= mark && w.log[i].Dest == from {
			w.log[i].Dest = to + " (replayed)"
		}
	}
	return sent, dropped
}

// Stop ends ingestion and fails the test if a write failed.
func (w *writer) Stop() []written {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	if w.err != nil {
		w.t.Fatalf("writer: %v", w.err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]written(nil), w.log...)
}

func (w *writer) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.log)
}
