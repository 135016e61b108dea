package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// The emulator is ready only when both its invoke endpoint and its Runtime
// API listen; the harness must not invoke before the later of the two.
func TestWaitListeningWaitsForEveryAddress(t *testing.T) {
	first, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	late, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	const delay = 150 * time.Millisecond
	opened := make(chan net.Listener, 1)
	go func() {
		time.Sleep(delay)
		l, err := net.Listen("tcp", late)
		if err != nil {
			opened <- nil
			return
		}
		opened <- l
	}()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = waitListening(ctx, make(chan struct{}), first.Addr().String(), late)
	if l := <-opened; l != nil {
		defer l.Close()
	} else {
		t.Skip("the late port was taken meanwhile")
	}
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < delay {
		t.Fatalf("returned after %v, before the second address listened", waited)
	}
}

func TestWaitListeningStopsWhenTheEmulatorExits(t *testing.T) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	close(done)
	err = waitListening(context.Background(), done, addr)
	if err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("err %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := waitListening(ctx, make(chan struct{}), addr); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

// A cold start that fails as on a loaded machine is tried again, a bounded
// number of times; a permanent failure is not.
func TestWithRetries(t *testing.T) {
	refused := errors.New("invoke answered 502 Bad Gateway; emulator output: connect: connection refused")
	t.Run("refused twice, then measured", func(t *testing.T) {
		n := 0
		smp, tries, err := withRetries(3, time.Millisecond, func() (sample, error) {
			if n++; n < 3 {
				return sample{}, refused
			}
			return sample{rie: 5 * time.Millisecond}, nil
		})
		if err != nil || tries != 3 || smp.rie != 5*time.Millisecond {
			t.Fatalf("%+v %d %v", smp, tries, err)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		n := 0
		_, tries, err := withRetries(3, time.Millisecond, func() (sample, error) { n++; return sample{}, refused })
		if !errors.Is(err, refused) || tries != 3 || n != 3 {
			t.Fatalf("tries %d, calls %d, err %v", tries, n, err)
		}
	})
	t.Run("permanent", func(t *testing.T) {
		n := 0
		_, tries, err := withRetries(3, time.Millisecond, func() (sample, error) {
			n++
			return sample{}, &permanentError{errors.New("start aws-lambda-rie: no such file")}
		})
		var p *permanentError
		if !errors.As(err, &p) || tries != 1 || n != 1 {
			t.Fatalf("tries %d, calls %d, err %v", tries, n, err)
		}
	})
}
