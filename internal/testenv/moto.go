package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// MotoServer is the moto_server executable the IAM and STS tests run:
// $ESSNAP_MOTO_SERVER (scripts/test.sh exports it), else the repository's
// .cache/moto-venv (scripts/install-moto.sh, run by scripts/peers.sh install).
func MotoServer(t testing.TB) string {
	t.Helper()
	p := os.Getenv("ESSNAP_MOTO_SERVER")
	if p == "" {
		p = filepath.Join(repoRoot(t), ".cache", "moto-venv", "bin", "moto_server")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("moto server not found at %s (install it with bash scripts/peers.sh install, or set ESSNAP_MOTO_SERVER): %v", p, err)
	}
	return p
}

// Moto starts a moto server (IAM, STS and the other mocked AWS APIs) on a
// free loopback port for the test and returns its URL; the test's cleanup
// stops it. Each call is a fresh server with empty state (account
// 123456789012). A missing or dead server fails the test: a skipped peer
// test is not a passing one.
func Moto(t testing.TB) string {
	t.Helper()
	bin := MotoServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var log syncBuffer
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; i < 300; i++ {
		if res, err := http.Get(url + "/moto-api/"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return url
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("moto server at %s did not answer in 30s; its log:\n%s", url, log.String())
	return ""
}

// repoRoot is the directory holding go.mod, found upwards from the test's
// working directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the process's two output streams.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
