package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// writes records every Write its logBuffer makes.
type writes struct {
	mu sync.Mutex
	w  [][]byte
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.w = append(w.w, bytes.Clone(p))
	return len(p), nil
}

func (w *writes) get() [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w
}

func (w *writes) joined() string { return string(bytes.Join(w.get(), nil)) }

func TestLogBufferBatchesUntilInterval(t *testing.T) {
	var out writes
	const interval = 200 * time.Millisecond
	b := newLogBuffer(&out, interval)
	defer b.Close()
	start := time.Now()
	for _, l := range []string{"one\n", "two\n", "three\n"} {
		b.Write([]byte(l))
	}
	// Nothing is written before the interval. (A test descheduled for the
	// whole interval cannot tell: it does not judge then.)
	if n := len(out.get()); n != 0 && time.Since(start) < interval {
		t.Fatalf("%d writes before the interval, want 0", n)
	}
	deadline := time.Now().Add(defaultTestTimeout)
	for len(out.get()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if w := out.get(); len(w) != 1 || string(w[0]) != "one\ntwo\nthree\n" {
		t.Fatalf("writes %q, want the three lines in one", w)
	}
	// The timer re-arms for the next batch.
	b.Write([]byte("four\n"))
	for len(out.get()) == 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := out.joined(); got != "one\ntwo\nthree\nfour\n" {
		t.Fatalf("log %q", got)
	}
}

func TestLogBufferFullAndLongLines(t *testing.T) {
	var out writes
	b := newLogBuffer(&out, time.Hour)
	defer b.Close()
	line := strings.Repeat("x", 1000) + "\n"
	n := logBufferSize/len(line) + 1 // one more than fits
	for range n {
		b.Write([]byte(line))
	}
	if w := out.get(); len(w) != 1 || len(w[0]) != (n-1)*len(line) {
		t.Fatalf("%d writes; want one of the %d lines that fit", len(w), n-1)
	}
	long := strings.Repeat("y", logBufferSize) + "\n"
	b.Write([]byte(long))
	if w := out.get(); len(w) != 3 || string(w[2]) != long {
		t.Fatalf("a line longer than the buffer: %d writes, want the buffered line then it, in order", len(w))
	}
	b.Flush()
	if got, want := out.joined(), strings.Repeat(line, n)+long; got != want {
		t.Fatalf("lines lost or reordered: %d bytes, want %d", len(got), len(want))
	}
}

func TestLogBufferCloseFlushes(t *testing.T) {
	var out writes
	b := newLogBuffer(&out, time.Hour)
	b.Write([]byte("kept\n"))
	b.Close()
	if got := out.joined(); got != "kept\n" {
		t.Fatalf("after Close: %q", got)
	}
	b.Write([]byte("late\n")) // written at once
	if got := out.joined(); got != "kept\nlate\n" {
		t.Fatalf("after Close, a line is written at once: %q", got)
	}
}

// Warnings and errors reach the output at once, after the lines before
// them; info lines wait.
func TestFlushHandlerWritesWarningsAtOnce(t *testing.T) {
	var out writes
	b := newLogBuffer(&out, time.Hour)
	defer b.Close()
	log := slog.New(flushHandler{slog.NewTextHandler(b, nil), b}).With("k", "v").WithGroup("g")
	log.Info("first")
	if len(out.get()) != 0 {
		t.Fatal("an info line was written at once")
	}
	log.ErrorContext(context.Background(), "boom")
	got := out.joined()
	if !strings.Contains(got, "msg=first") || !strings.Contains(got, "msg=boom") ||
		strings.Index(got, "first") > strings.Index(got, "boom") || !strings.Contains(got, "k=v") {
		t.Fatalf("after an error line: %q", got)
	}
}

// The same of a line handed over as its parts (server.AttrsHandler, the
// "finished call" line's way): a failed call's line is written at once.
func TestFlushHandlerWritesWarningAttrsAtOnce(t *testing.T) {
	for _, json := range []bool{true, false} {
		var out writes
		b := newLogBuffer(&out, time.Hour)
		h := flushHandler{newLineHandler(b, json, nil), b}
		attrs := []slog.Attr{slog.String("grpc.code", "OK")}
		if err := h.HandleAttrs(context.Background(), time.Time{}, slog.LevelInfo, "first", attrs); err != nil {
			t.Fatal(err)
		}
		if len(out.get()) != 0 {
			t.Fatalf("json=%v: an info line was written at once", json)
		}
		attrs = []slog.Attr{slog.String("grpc.code", "Internal")}
		if err := h.HandleAttrs(context.Background(), time.Time{}, slog.LevelError, "finished call", attrs); err != nil {
			t.Fatal(err)
		}
		got := out.joined()
		if !strings.Contains(got, "first") || !strings.Contains(got, "Internal") || strings.Index(got, "first") > strings.Index(got, "Internal") {
			t.Fatalf("json=%v: after an error line: %q", json, got)
		}
		b.Close()
	}
}

// --log-flush=0 writes every line at once.
func TestLogFlushZero(t *testing.T) {
	cfg, err := parseConfig([]string{"--log-flush=0"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out writes
	cfg.logOut = &out
	log, buf := cfg.logger()
	if buf != nil {
		t.Fatal("a buffer with --log-flush=0")
	}
	log.Info("now")
	if len(out.get()) != 1 {
		t.Fatal("the line was not written at once")
	}
}

// The "listening" lines are written at once even when the log is batched:
// scripts wait on them.
func TestListeningLinesAtOnce(t *testing.T) {
	d := startDaemon(t, "--log-flush=1h", "--log-level=info")
	deadline := time.Now().Add(defaultTestTimeout)
	for !strings.Contains(d.logs.String(), `"msg":"grpc listening"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no listening line with --log-flush=1h:\n%s", d.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(d.logs.String(), `"msg":"tcp command port listening"`) {
		t.Errorf("the TCP listening line was not flushed with the gRPC one:\n%s", d.logs)
	}
}
