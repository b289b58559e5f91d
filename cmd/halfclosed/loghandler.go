package main

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// lineHandler writes the lines the server logs per job and per call (the
// raw-TCP `job` line, the gRPC "finished call" line) byte for byte as
// slog's JSON or text handler would, without its machinery: at thousands
// of small jobs a second, slog's encoder was about 8 % of the server's CPU
// (a handle state and a buffer from pools, a check of every byte of every
// string through its tables, the key of each grouped field built anew).
//
// It encodes a record itself only when everything in it is of a shape it
// knows: string, integer, boolean and duration values, non-empty groups of
// those, keys and strings of printable ASCII (0x20–0x7e), a time of years
// 0–9999, no handler attributes or groups. Anything else (a control
// character, a byte of UTF-8, an error or any other value, WithAttrs) goes
// to slog's own handler, which writes to the same writer under the same
// lock. TestLineHandlerMatchesSlog holds the two to the same bytes.
type lineHandler struct {
	slow  slog.Handler // slog's handler, for the records this one does not encode
	json  bool
	level slog.Leveler
	mu    *sync.Mutex // protects w's lines: each is one Write
	w     io.Writer
}

// newLineHandler returns a handler writing to w what
// slog.NewJSONHandler(w, opts) (json) or slog.NewTextHandler(w, opts)
// would. Options it does not know (ReplaceAttr, AddSource) get slog's
// handler itself.
func newLineHandler(w io.Writer, json bool, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	lw := &lockedWriter{w: w}
	var slow slog.Handler
	if json {
		slow = slog.NewJSONHandler(lw, opts)
	} else {
		slow = slog.NewTextHandler(lw, opts)
	}
	if opts.ReplaceAttr != nil || opts.AddSource {
		return slow
	}
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	return &lineHandler{slow: slow, json: json, level: level, mu: &lw.mu, w: w}
}

// lockedWriter is w under mu: slog's handler and lineHandler write their
// lines to it one at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.slow.WithAttrs(attrs)
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	return h.slow.WithGroup(name)
}

// lineBufs holds the buffers lines are encoded in.
var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (h *lineHandler) Handle(ctx context.Context, r slog.Record) error {
	bp := lineBufs.Get().(*[]byte)
	b, ok := h.appendRecord((*bp)[:0], r)
	if !ok {
		lineBufs.Put(bp)
		return h.slow.Handle(ctx, r)
	}
	return h.write(bp, b)
}

// write writes the line b, made in the pooled buffer bp, in one Write,
// and gives the buffer back unless it grew past 16 KiB.
func (h *lineHandler) write(bp *[]byte, b []byte) error {
	h.mu.Lock()
	_, err := h.w.Write(b)
	h.mu.Unlock()
	if cap(b) <= 16<<10 {
		*bp = b
		lineBufs.Put(bp)
	}
	return err
}

// HandleAttrs implements server.AttrsHandler: Handle of the record of
// these parts, without the record (the "finished call" line).
func (h *lineHandler) HandleAttrs(ctx context.Context, t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	bp := lineBufs.Get().(*[]byte)
	b, ok := h.appendHead((*bp)[:0], t, level, msg)
	for i := 0; ok && i < len(attrs); i++ {
		b, ok = h.appendAttr(b, "", attrs[i])
	}
	if !ok {
		lineBufs.Put(bp)
		r := slog.NewRecord(t, level, msg, 0)
		r.AddAttrs(attrs...)
		return h.slow.Handle(ctx, r)
	}
	b = h.appendTail(b)
	return h.write(bp, b)
}

// appendRecord appends r's line to b, or reports false if it holds
// anything lineHandler does not encode.
func (h *lineHandler) appendRecord(b []byte, r slog.Record) ([]byte, bool) {
	b, ok := h.appendHead(b, r.Time, r.Level, r.Message)
	if !ok {
		return b, false
	}
	r.Attrs(func(a slog.Attr) bool {
		b, ok = h.appendAttr(b, "", a)
		return ok
	})
	if !ok {
		return b, false
	}
	return h.appendTail(b), true
}

// appendTail ends a line.
func (h *lineHandler) appendTail(b []byte) []byte {
	if h.json {
		b = append(b, '}')
	}
	return append(b, '\n')
}

// appendHead appends a line's time, level and message, or reports false.
func (h *lineHandler) appendHead(b []byte, rt time.Time, level slog.Level, msg string) ([]byte, bool) {
	if h.json {
		b = append(b, '{')
	}
	if !rt.IsZero() {
		t := rt.Round(0)
		if y := t.Year(); y < 0 || y >= 10000 {
			return b, false
		}
		b = h.appendKey(b, "", slog.TimeKey)
		if h.json {
			b = append(b, '"')
			b = t.AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		} else {
			b = appendRFC3339Millis(b, t)
		}
	}
	b = h.appendKey(b, "", slog.LevelKey)
	var ok bool
	if b, ok = h.appendString(b, level.String()); !ok {
		return b, false
	}
	b = h.appendKey(b, "", slog.MessageKey)
	return h.appendString(b, msg)
}

// appendAttr appends a, within the text format's group prefix (the
// groups' keys, each followed by '.'), or reports false.
func (h *lineHandler) appendAttr(b []byte, prefix string, a slog.Attr) ([]byte, bool) {
	kc := classOf(a.Key)
	if a.Key == "" || kc&notPlain != 0 {
		return b, false // an empty key: slog leaves it out or inlines its group
	}
	v := a.Value
	var ok bool
	switch v.Kind() {
	case slog.KindString:
		b = h.appendKeyClass(b, prefix, a.Key, kc)
		return h.appendString(b, v.String())
	case slog.KindInt64:
		b = h.appendKeyClass(b, prefix, a.Key, kc)
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		b = h.appendKeyClass(b, prefix, a.Key, kc)
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		b = h.appendKeyClass(b, prefix, a.Key, kc)
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		b = h.appendKeyClass(b, prefix, a.Key, kc)
		if h.json {
			return strconv.AppendInt(b, int64(v.Duration()), 10), true
		}
		return append(b, v.Duration().String()...), true
	case slog.KindGroup:
		attrs := v.Group()
		if len(attrs) == 0 {
			return b, false // slog leaves it out
		}
		if h.json {
			b = h.appendKeyClass(b, "", a.Key, kc)
			b = append(b, '{')
			for _, g := range attrs {
				if b, ok = h.appendAttr(b, "", g); !ok {
					return b, false
				}
			}
			return append(b, '}'), true
		}
		p := prefix + a.Key + "."
		for _, g := range attrs {
			if b, ok = h.appendAttr(b, p, g); !ok {
				return b, false
			}
		}
		return b, true
	}
	return b, false
}

// appendKey appends the separator from the field before (none after the
// line's or a JSON object's start), prefix+key (plain: checked by the
// caller, or constants) and the separator of a key and its value.
func (h *lineHandler) appendKey(b []byte, prefix, key string) []byte {
	return h.appendKeyClass(b, prefix, key, classOf(key))
}

// appendKeyClass is appendKey for a key of class kc (classOf(key)).
func (h *lineHandler) appendKeyClass(b []byte, prefix, key string, kc uint8) []byte {
	if h.json {
		if b[len(b)-1] != '{' {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = appendJSONClass(b, key, kc)
		return append(b, '"', ':')
	}
	if len(b) > 0 {
		b = append(b, ' ')
	}
	if (classOf(prefix)|kc)&textQuote != 0 {
		b = strconv.AppendQuote(b, prefix+key)
	} else {
		b = append(b, prefix...)
		b = append(b, key...)
	}
	return append(b, '=')
}

// appendString appends s as a value, or reports false if it is not plain.
func (h *lineHandler) appendString(b []byte, s string) ([]byte, bool) {
	c := classOf(s)
	if c&notPlain != 0 {
		return b, false
	}
	if h.json {
		b = append(b, '"')
		b = appendJSONClass(b, s, c)
		return append(b, '"'), true
	}
	if s == "" || c&textQuote != 0 {
		return strconv.AppendQuote(b, s), true
	}
	return append(b, s...), true
}

// The classes of a byte of a string lineHandler encodes. Each string is
// read once, for the union of its bytes' classes (classOf), where checking
// it was plain, escaping it for JSON and telling whether the text format
// quotes it read it once each.
const (
	notPlain  = 1 << iota // not printable ASCII (0x20–0x7e): slog's handler encodes it
	jsonEsc               // '"' or '\\', which JSON escapes
	textQuote             // ' ', '=' or '"', for which the text format quotes a string
)

var byteClass = func() (t [256]uint8) {
	for c := range t {
		if c < 0x20 || c > 0x7e {
			t[c] = notPlain
		}
	}
	t['"'] |= jsonEsc | textQuote
	t['\\'] |= jsonEsc
	t[' '] |= textQuote
	t['='] |= textQuote
	return t
}()

// classOf is the union of the classes of s's bytes.
func classOf(s string) uint8 {
	var c uint8
	for i := 0; i < len(s); i++ {
		c |= byteClass[s[i]]
	}
	return c
}

// appendJSONClass appends plain s, of class c, escaped as in a JSON string.
func appendJSONClass(b []byte, s string, c uint8) []byte {
	if c&jsonEsc == 0 {
		return append(b, s...)
	}
	return appendJSONPlain(b, s)
}

// appendJSONPlain appends plain s escaped as in a JSON string: of
// printable ASCII, slog escapes only '"' and '\\'.
func appendJSONPlain(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', c)
			start = i + 1
		}
	}
	return append(b, s[start:]...)
}

// appendRFC3339Millis appends t as slog's text handler does: RFC 3339 with
// exactly three digits of milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	// RFC3339Nano drops trailing zeros: a tenth of a millisecond added
	// keeps four digits, and the fourth is cut.
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}
