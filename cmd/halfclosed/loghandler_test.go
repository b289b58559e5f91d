package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/halfclose/halfclose/internal/testenv"
	"github.com/halfclose/halfclose/server"
)

// hostileStrings are strings whose encoding slog's handlers treat apart:
// quotes, backslashes, the separators of the text format, control
// characters, DEL, invalid UTF-8, the JSON line separators, non-ASCII
// letters and spaces.
var hostileStrings = []string{
	"", "ok", "sha256sum", "grep -F 'a b' | sort", `say "hi"`, `back\slash`, `\`, `"`,
	"a=b", "=", " ", "tab\there", "new\nline", "cr\rx", "\x00", "\x1f", "\x7f",
	"bell\a", "\xff", "ab\xc3", "\xc3\x28", "\u2028", "\u2029", "é", "日本",
	"nbsp\u00a0x", "\u200b", "<tag>&amp;", "127.0.0.2:41234", "[::1]:7001",
	"job.id", "key with space", "-", "+", "{}", "{\"a\":1}",
}

// hostileKeys are keys, hostile ones among them (an empty key is elided,
// or inlines its group).
var hostileKeys = []string{"id", "command", "in_bytes", "grpc.code", "peer.address", "", "a b", "a=b", `q"`, `b\s`, "é", "\n", "\u2028"}

// randomValue is a value of any kind, groups nested up to depth.
func randomValue(r *rand.Rand, depth int) slog.Value {
	switch n := r.IntN(12); {
	case n < 4:
		return slog.StringValue(hostileStrings[r.IntN(len(hostileStrings))])
	case n == 4:
		return slog.Int64Value(r.Int64() - r.Int64())
	case n == 5:
		return slog.Uint64Value(r.Uint64())
	case n == 6:
		return slog.BoolValue(r.IntN(2) == 0)
	case n == 7:
		return slog.DurationValue(time.Duration(r.Int64N(int64(3*time.Hour)) - int64(time.Hour)))
	case n == 8 && depth > 0:
		attrs := make([]slog.Attr, r.IntN(4))
		for i := range attrs {
			attrs[i] = randomAttr(r, depth-1)
		}
		return slog.GroupValue(attrs...)
	case n == 9:
		return slog.Float64Value(r.NormFloat64())
	case n == 10:
		return slog.AnyValue(errors.New(hostileStrings[r.IntN(len(hostileStrings))]))
	default:
		return slog.TimeValue(time.Unix(r.Int64N(1<<33), r.Int64N(1e9)))
	}
}

func randomAttr(r *rand.Rand, depth int) slog.Attr {
	k := hostileKeys[r.IntN(len(hostileKeys))]
	if r.IntN(2) == 0 {
		k = hostileKeys[r.IntN(5)] // mostly plain keys
	}
	return slog.Attr{Key: k, Value: randomValue(r, depth)}
}

var zones = []*time.Location{time.UTC, time.Local, time.FixedZone("X", -(3*3600 + 30*60)), time.FixedZone("Y", 5*3600+45*60+7)}

func randomTime(r *rand.Rand) time.Time {
	switch r.IntN(8) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(10000+r.IntN(5), 1, 1, 0, 0, 0, 0, time.UTC) // slog writes an error
	case 2:
		// whole milliseconds and seconds: the text format's trailing zeros
		return time.Unix(r.Int64N(1<<32), int64(r.IntN(1000))*int64(time.Millisecond)).In(zones[r.IntN(len(zones))])
	}
	t := time.Unix(r.Int64N(1<<35), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	if r.IntN(2) == 0 {
		t = time.Now() // with a monotonic reading
	}
	return t
}

var levels = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2, slog.LevelError + 4, slog.LevelDebug - 3}

// checkSame writes r through slog's handler and lineHandler, in both
// formats, and fails if the lines differ.
func checkSame(t *testing.T, r slog.Record) {
	t.Helper()
	for _, json := range []bool{true, false} {
		var want, got bytes.Buffer
		opts := &slog.HandlerOptions{Level: slog.LevelDebug - 10}
		var oracle slog.Handler
		if json {
			oracle = slog.NewJSONHandler(&want, opts)
		} else {
			oracle = slog.NewTextHandler(&want, opts)
		}
		h := newLineHandler(&got, json, opts)
		if err := oracle.Handle(context.Background(), r.Clone()); err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(context.Background(), r.Clone()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("json=%v:\n got %q\nwant %q", json, got.Bytes(), want.Bytes())
		}
		// The same record's parts through HandleAttrs (the "finished
		// call" line's way), plain and behind flushHandler.
		var attrs []slog.Attr
		r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
		checkAttrs(t, json, want.Bytes(), r.Time, r.Level, r.Message, attrs)
	}
}

// checkAttrs fails unless HandleAttrs of lineHandler, and of a
// flushHandler around one, write want for the record of these parts.
func checkAttrs(t *testing.T, json bool, want []byte, tm time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	t.Helper()
	opts := &slog.HandlerOptions{Level: slog.LevelDebug - 10}
	var got bytes.Buffer
	h := newLineHandler(&got, json, opts)
	if err := h.(server.AttrsHandler).HandleAttrs(context.Background(), tm, level, msg, attrs); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("json=%v, HandleAttrs:\n got %q\nwant %q", json, got.Bytes(), want)
	}
	got.Reset()
	buf := newLogBuffer(&got, time.Hour)
	fh := flushHandler{newLineHandler(buf, json, opts), buf}
	if err := fh.HandleAttrs(context.Background(), tm, level, msg, attrs); err != nil {
		t.Fatal(err)
	}
	buf.Close()
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("json=%v, flushHandler's HandleAttrs:\n got %q\nwant %q", json, got.Bytes(), want)
	}
}

// checkSameAttrs is checkSame of the record of these parts, made as the
// "finished call" line made it before HandleAttrs (NewRecord, AddAttrs),
// and HandleAttrs of the parts as they are (AddAttrs drops empty groups).
func checkSameAttrs(t *testing.T, tm time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	t.Helper()
	rec := slog.NewRecord(tm, level, msg, 0)
	rec.AddAttrs(attrs...)
	checkSame(t, rec)
	for _, json := range []bool{true, false} {
		var want bytes.Buffer
		opts := &slog.HandlerOptions{Level: slog.LevelDebug - 10}
		var oracle slog.Handler
		if json {
			oracle = slog.NewJSONHandler(&want, opts)
		} else {
			oracle = slog.NewTextHandler(&want, opts)
		}
		if err := oracle.Handle(context.Background(), rec.Clone()); err != nil {
			t.Fatal(err)
		}
		checkAttrs(t, json, want.Bytes(), tm, level, msg, attrs)
	}
}

// TestLineHandlerMatchesSlog: lineHandler writes what slog's JSON and text
// handlers write, for random records of every kind of value, with hostile
// strings and keys (those it does not encode itself go to slog's):
// 5,000 records under make test (about 22,000 attributes, every kind and
// hostile string many times over; a new seed each run), 20,000 in make
// test-long.
func TestLineHandlerMatchesSlog(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("LINEHANDLER_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("LINEHANDLER_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with LINEHANDLER_SEED=%d", seed)
		}
	})
	r := rand.New(rand.NewPCG(14, seed))
	n := 5000
	if testenv.Long() {
		n = 20000
	}
	for range n {
		tm, level, msg := randomTime(r), levels[r.IntN(len(levels))], hostileStrings[r.IntN(len(hostileStrings))]
		attrs := make([]slog.Attr, r.IntN(10))
		for i := range attrs {
			attrs[i] = randomAttr(r, 3)
		}
		checkSameAttrs(t, tm, level, msg, attrs)
	}
}

// jobRecord is a raw-TCP job line as the server logs it (server/job.go,
// server/tcp.go), with the given strings.
func jobRecord(tm time.Time, command, outcome, errText, peer string) slog.Record {
	rec := slog.NewRecord(tm, slog.LevelInfo, "job", 0)
	attrs := []slog.Attr{slog.String("id", "ABCDEFGHIJKLMNOP"), slog.String("command", command),
		slog.Int64("in_bytes", 1024), slog.Int64("out_bytes", 67), slog.Duration("duration", 1234567*time.Nanosecond),
		slog.String("outcome", outcome)}
	if errText != "" {
		attrs = append(attrs, slog.String("error", errText))
	} else {
		attrs = append(attrs, slog.Int("exit_status", 1))
	}
	rec.AddAttrs(slog.Attr{Key: "job", Value: slog.GroupValue(attrs...)}, slog.String("adapter", "tcp"), slog.String("peer", peer))
	return rec
}

// TestLineHandlerEncodesJobLines: the lines logged per job are encoded by
// lineHandler itself (not handed to slog's handler), and are slog's bytes.
func TestLineHandlerEncodesJobLines(t *testing.T) {
	for _, command := range []string{"sha256sum", "grep -F 'connection reset'|sort|uniq -c", `grep "a\b"`, ""} {
		for _, json := range []bool{true, false} {
			rec := jobRecord(time.Now(), command, "invalid_argument", `bad flag "-Q": see grep --help`, "127.0.0.2:41234")
			checkSame(t, rec)
			h := newLineHandler(nil, json, nil).(*lineHandler)
			if _, ok := h.appendRecord(nil, rec); !ok {
				t.Errorf("json=%v: the job line of %q went to slog's handler", json, command)
			}
		}
	}
}

// FuzzLineHandler: a job line with any strings is written as slog writes
// it.
func FuzzLineHandler(f *testing.F) {
	for _, s := range hostileStrings {
		f.Add(s, "ok", "", "127.0.0.1:5", int64(0))
	}
	f.Add("sha256sum", "internal", "spool: cannot create spill file: open /spool/x: no space left on device", "[::1]:7001", int64(1700000000123456789))
	f.Fuzz(func(t *testing.T, command, outcome, errText, peer string, ns int64) {
		checkSame(t, jobRecord(time.Unix(0, ns), command, outcome, errText, peer))
	})
}

// byteStrings are strings of every byte 0x00–0xff, alone, between
// letters and twice, and of the sequences slog's handlers treat apart:
// invalid UTF-8, U+2028 and U+2029, U+FFFD, DEL.
func byteStrings() []string {
	var out []string
	for c := range 256 {
		b := string([]byte{byte(c)})
		out = append(out, b, "a"+b+"z", b+b)
	}
	return append(out, "", "\xc3", "\xc3\x28", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\u2028", "\u2029", "x\u2028y", "\ufffd", "\x7f", "a b", "a=b", `a"b`, `a\b`, `\"`, "= ", `"`)
}

// TestLineHandlerEveryByte: lineHandler writes slog's bytes, JSON and
// text, for each of byteStrings as a value, a key, a group's key, a key
// within a group and the message.
func TestLineHandlerEveryByte(t *testing.T) {
	tm := time.Date(2026, 12, 5, 9, 20, 24, 123456789, time.UTC)
	for _, s := range byteStrings() {
		recs := []slog.Record{
			slog.NewRecord(tm, slog.LevelInfo, s, 0),
			slog.NewRecord(tm, slog.LevelInfo, "m", 0),
			slog.NewRecord(tm, slog.LevelWarn, "m", 0),
			slog.NewRecord(tm, slog.LevelInfo, "m", 0),
			slog.NewRecord(tm, slog.LevelInfo, "m", 0),
		}
		recs[1].AddAttrs(slog.String("k", s), slog.String("peer", "127.0.0.1:5"))
		recs[2].AddAttrs(slog.Int("n", 1), slog.String(s, "v"), slog.Bool(s, true))
		recs[3].AddAttrs(slog.Group(s, slog.String("id", "x"), slog.String("in", s)))
		recs[4].AddAttrs(slog.Group("job", slog.Group("g", slog.Duration(s, time.Second), slog.String("s", s)), slog.String(s+"=", s)))
		for _, r := range recs {
			checkSame(t, r)
		}
	}
}

// FuzzLineHandlerAttrs: a record with any message, keys (plain, in a
// group, a group's) and string values is written as slog writes it.
func FuzzLineHandlerAttrs(f *testing.F) {
	for _, s := range byteStrings() {
		f.Add(s, "k", "g", s)
		f.Add("m", s, "g", "v")
		f.Add("m", "k", s, "v")
	}
	f.Fuzz(func(t *testing.T, msg, key, group, value string) {
		r := slog.NewRecord(time.Unix(0, 1700000000123456789), slog.LevelInfo, msg, 0)
		r.AddAttrs(slog.String(key, value), slog.Group(group, slog.String(key, value), slog.Int64(value, 7)),
			slog.Group("job", slog.Group(group, slog.String("id", value)), slog.String(key, "x")))
		checkSame(t, r)
	})
}

// BenchmarkJobLine is what writing a job line costs, through slog's JSON
// handler and through lineHandler.
func BenchmarkJobLine(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog-json", slog.NewJSONHandler(discard{}, nil)},
		{"line-json", newLineHandler(discard{}, true, nil)},
		{"slog-text", slog.NewTextHandler(discard{}, nil)},
		{"line-text", newLineHandler(discard{}, false, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			rec := jobRecord(time.Now(), "sha256sum", "ok", "", "127.0.0.2:41234")
			for b.Loop() {
				bc.h.Handle(context.Background(), rec)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
