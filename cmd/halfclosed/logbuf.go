package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/halfclose/halfclose/server"
)

// logBuffer batches log lines: at a line per call, a write(2) per line is
// a good part of what logging costs the server. A line is written at the
// latest interval after it was logged, when the buffer is full, or on
// Flush; a slog handler writes a whole record in one Write, so lines are
// never split.
type logBuffer struct {
	w        io.Writer
	size     int
	interval time.Duration

	mu    sync.Mutex
	buf   []byte
	timer *time.Timer // armed while buf holds lines
}

// logBufferSize bounds what a crash can lose, with the interval.
const logBufferSize = 64 << 10

func newLogBuffer(w io.Writer, interval time.Duration) *logBuffer {
	return &logBuffer{w: w, size: logBufferSize, interval: interval, buf: make([]byte, 0, logBufferSize)}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf)+len(p) > b.size {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= b.size {
		return b.w.Write(p)
	}
	b.buf = append(b.buf, p...)
	if b.timer == nil {
		b.timer = time.AfterFunc(b.interval, func() { b.Flush() })
	} else if len(b.buf) == len(p) {
		b.timer.Reset(b.interval)
	}
	return len(p), nil
}

// Flush writes out the lines buffered so far.
func (b *logBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flushLocked()
}

func (b *logBuffer) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// Close flushes and stops the timer; later lines are written at once.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.size = 0
	return b.flushLocked()
}

// flushHandler flushes its logBuffer after a record at level Warn or
// above, so warnings and errors (a handler's panic among them) are written
// when they happen, with the lines before them.
type flushHandler struct {
	slog.Handler
	buf *logBuffer
}

func (h flushHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

var (
	_ server.AttrsHandler = flushHandler{}
	_ server.AttrsHandler = (*lineHandler)(nil)
)

// HandleAttrs implements server.AttrsHandler, as Handle.
func (h flushHandler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	var err error
	if ah, ok := h.Handler.(server.AttrsHandler); ok {
		err = ah.HandleAttrs(ctx, t, level, msg, attrs)
	} else {
		r := slog.NewRecord(t, level, msg, 0)
		r.AddAttrs(attrs...)
		err = h.Handler.Handle(ctx, r)
	}
	if level >= slog.LevelWarn {
		if ferr := h.buf.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushHandler{h.Handler.WithAttrs(attrs), h.buf}
}

func (h flushHandler) WithGroup(name string) slog.Handler {
	return flushHandler{h.Handler.WithGroup(name), h.buf}
}
