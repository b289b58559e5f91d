package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// TestRefusalLogNamesPeer: the refusal log's first line names the
// refused request's peer, method and code, as a job's or a call's line
// does, and its summary the last one it counts (last_peer, last_method),
// with the count; a connection closed unread (no status) has no code.
// Its lines named no peer: an operator could not tell whom a flood of
// refusals came from.
func TestRefusalLogNamesPeer(t *testing.T) {
	var buf bytes.Buffer
	r := newRefusalLog(slog.New(slog.NewJSONHandler(&buf, nil)), nil)
	r.every = time.Hour // the summary is written by stop, not by a timer
	a := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1001}
	b := &net.TCPAddr{IP: net.ParseIP("::1"), Port: 1002}
	r.add(refusedReq{adapter: "grpc", reason: ReasonMetadata, peer: a, method: "/halfclose.v1.ComputeService/Run", code: "ResourceExhausted"})
	r.add(refusedReq{adapter: "grpc", reason: ReasonMetadata, peer: a, method: "/grpc.health.v1.Health/Check", code: "ResourceExhausted"})
	r.add(refusedReq{adapter: "grpc", reason: ReasonMetadata, peer: b, method: "/halfclose.v1.ComputeService/Digest", code: "ResourceExhausted"})
	r.add(refusedReq{adapter: "grpc", reason: ReasonMaxConns, peer: b})
	r.stop()
	var lines []map[string]any
	for sc := bufio.NewScanner(&buf); sc.Scan(); {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		delete(l, "time")
		lines = append(lines, l)
	}
	want := map[string]map[string]any{
		"first":     {"level": "WARN", "msg": "requests refused", "adapter": "grpc", "reason": "metadata", "peer": "127.0.0.1:1001", "method": "/halfclose.v1.ComputeService/Run", "code": "ResourceExhausted", "count": 1.0},
		"metadata":  {"level": "WARN", "msg": "requests refused", "adapter": "grpc", "reason": "metadata", "last_peer": "[::1]:1002", "last_method": "/halfclose.v1.ComputeService/Digest", "code": "ResourceExhausted", "count": 2.0, "interval": float64(time.Hour)},
		"max_conns": {"level": "WARN", "msg": "requests refused", "adapter": "grpc", "reason": "max_conns", "last_peer": "[::1]:1002", "count": 1.0, "interval": float64(time.Hour)},
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	got := map[string]map[string]any{"first": lines[0]}
	for _, l := range lines[1:] {
		got[l["reason"].(string)] = l
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Errorf("%s line %v, want %v", k, g, w)
			continue
		}
		for f, v := range w {
			if g[f] != v {
				t.Errorf("%s line %v, want %v", k, g, w)
				break
			}
		}
	}
}

// TestRefusalLogCountedCheap: a refusal counted into the interval's
// summary formats nothing: the summary names only the last one, so its
// peer is formatted when the line is written. Each was formatted as it
// came (an allocation or two for each connection of a flood, and a slot
// of the address cache taken from a live connection's), for a line that
// named one of them.
func TestRefusalLogCountedCheap(t *testing.T) {
	r := newRefusalLog(slog.New(slog.NewJSONHandler(io.Discard, nil)), nil)
	r.every = time.Hour // no summary while counting
	defer r.stop()
	// Connections of a flood: each its own address, in one cache slot.
	addrs := make([]*net.TCPAddr, 8)
	for i := range addrs {
		addrs[i] = &net.TCPAddr{IP: net.IPv4(10, 0, 0, byte(i)), Port: 40000}
	}
	r.add(refusedReq{adapter: "tcp", reason: ReasonMaxConns, peer: addrs[0], code: "ResourceExhausted"}) // the first line
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		i++
		r.add(refusedReq{adapter: "tcp", reason: ReasonMaxConns, peer: addrs[i%len(addrs)], code: "ResourceExhausted"})
	})
	if allocs != 0 {
		t.Errorf("%v allocations a counted refusal, want 0", allocs)
	}
}
