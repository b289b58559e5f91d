package server

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	protov2 "google.golang.org/protobuf/proto"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/internal/testenv"
)

// countingPool is a mem.BufferPool that counts, per buffer, how often it
// was given back.
type countingPool struct {
	mu   sync.Mutex
	puts map[*byte]int // protected by mu; key: the buffer's first byte
}

// Get makes buffers of at least 4 KiB capacity: mem.NewBuffer does not
// pool smaller ones.
func (p *countingPool) Get(n int) *[]byte { b := make([]byte, n, max(n, 4096)); return &b }

func (p *countingPool) Put(b *[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.puts == nil {
		p.puts = map[*byte]int{}
	}
	p.puts[&(*b)[:1][0]]++
}

func (p *countingPool) total() (bufs, puts int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.puts {
		bufs++
		puts += n
	}
	return bufs, puts
}

// split makes wire into pooled buffers cut at cuts, as grpc-go's frames
// would be.
func split(pool *countingPool, wire []byte, cuts ...int) mem.BufferSlice {
	var s mem.BufferSlice
	prev := 0
	for _, c := range append(cuts, len(wire)) {
		b := pool.Get(c - prev)
		copy(*b, wire[prev:c])
		s = append(s, mem.NewBuffer(b, pool))
		prev = c
	}
	return s
}

func testCodec() requestCodec { return requestCodec{encoding.GetCodecV2(proto.Name)} }

// A data message is held, not copied, wherever grpc-go's buffers cut it
// (the tag and the length's varint included); its buffers go back to the
// pool once the handler releases it, exactly once however often release
// is called, and not when grpc-go frees its own reference.
func TestCodecHoldsData(t *testing.T) {
	payload := randBytes(3, 300) // a 2-byte length varint
	for _, msg := range []protov2.Message{
		&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: payload}},
		&apiv1.RunRequest{Message: &apiv1.RunRequest_Data{Data: payload}},
	} {
		wire, err := protov2.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		for c1 := 1; c1 < 8; c1++ {
			for _, c2 := range []int{c1 + 1, 150, len(wire) - 1} {
				pool := &countingPool{}
				data := split(pool, wire, c1, c2)
				into := msg.ProtoReflect().New().Interface()
				if err := testCodec().Unmarshal(data, into); err != nil {
					t.Fatal(err)
				}
				data.Free() // grpc-go's reference, as its recv does
				if _, puts := pool.total(); puts != 0 {
					t.Fatalf("cuts %d,%d: %d buffers back in the pool while held", c1, c2, puts)
				}
				held, bad := takeNote(into)
				if bad != nil || held == nil {
					t.Fatalf("cuts %d,%d: malformed %v, held %v", c1, c2, bad, held)
				}
				if got := bytes.Join(held.segs, nil); !bytes.Equal(got, payload) || held.n != len(payload) {
					t.Fatalf("cuts %d,%d: held %d bytes (n=%d), differing from the %d sent", c1, c2, len(got), held.n, len(payload))
				}
				held.release()
				held.release()
				if bufs, puts := pool.total(); bufs != 3 || puts != 3 {
					t.Fatalf("cuts %d,%d: %d buffers given back %d times, want 3 once each", c1, c2, bufs, puts)
				}
			}
		}
	}
}

// Messages that are not one non-empty data field are parsed by protobuf
// as usual (the last of repeated oneof fields wins), and their buffers
// are grpc-go's alone; a message that does not parse is noted malformed.
func TestCodecOtherMessages(t *testing.T) {
	marshal := func(m protov2.Message) []byte {
		b, err := protov2.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	data := marshal(dataMsg([]byte("abc")))
	end := marshal(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_End{End: &apiv1.End{Size: 3}}})
	for _, tc := range []struct {
		name string
		wire []byte
		want protov2.Message // nil: malformed
	}{
		{"header", marshal(header(apiv1.Algorithm_ALGORITHM_SHA256)), header(apiv1.Algorithm_ALGORITHM_SHA256)},
		{"text", marshal(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Text{Text: "hi"}}), &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Text{Text: "hi"}}},
		{"empty data", marshal(dataMsg([]byte{})), dataMsg([]byte{})},
		{"data then end", append(append([]byte{}, data...), end...), &apiv1.DigestRequest{Message: &apiv1.DigestRequest_End{End: &apiv1.End{Size: 3}}}},
		{"data twice", append(append([]byte{}, data...), data...), dataMsg([]byte("abc"))},
		{"data with an unknown field", append(append([]byte{}, data...), 0x78, 0x01), nil},
		{"data cut short", data[:len(data)-1], nil},
		{"length past the end", []byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := &countingPool{}
			bufs := split(pool, tc.wire, 1)
			got := &apiv1.DigestRequest{}
			if err := testCodec().Unmarshal(bufs, got); err != nil {
				t.Fatal(err)
			}
			bufs.Free()
			if _, puts := pool.total(); puts != 2 {
				t.Errorf("%d buffers given back, want 2: the codec kept a reference", puts)
			}
			held, bad := takeNote(got)
			if held != nil {
				t.Fatalf("held %d bytes", held.n)
			}
			if tc.name == "data with an unknown field" {
				// Unknown fields are kept by protobuf, not an error.
				if bad != nil || !bytes.Equal(got.GetData(), []byte("abc")) {
					t.Fatalf("malformed %v, data %q", bad, got.GetData())
				}
				return
			}
			if tc.want == nil {
				if bad == nil {
					t.Fatalf("not noted malformed: %v", got)
				}
				return
			}
			if bad != nil || !protov2.Equal(got, tc.want) {
				t.Fatalf("got %v (malformed %v), want %v", got, bad, tc.want)
			}
		})
	}
}

// heldSource yields held chunks of msgs from buffers of pool, then io.EOF.
func heldSource(pool *countingPool, msgs ...string) messageSource {
	return func() ([]byte, *heldData, error) {
		if len(msgs) == 0 {
			return nil, nil, io.EOF
		}
		wire, _ := protov2.Marshal(dataMsg([]byte(msgs[0])))
		msgs = msgs[1:]
		bufs := split(pool, wire, 1, len(wire)/2)
		h := holdData(bufs)
		bufs.Free()
		return nil, h, nil
	}
}

// The reader hands a held message's buffers back once it has read all of
// them, and release gives back those received and not read, and those
// received after it, each once.
func TestRecvAheadReleasesHeld(t *testing.T) {
	t.Run("read to the end", func(t *testing.T) {
		pool := &countingPool{}
		r := newRecvAhead(context.Background(), heldSource(pool, "hello, ", "world", "!"), 0, 0)
		var got bytes.Buffer
		if _, err := r.WriteTo(&got); err != nil || got.String() != "hello, world!" {
			t.Fatalf("read %q, %v", got.String(), err)
		}
		r.release()
		testenv.Within(t, hangTimeout, "the reader goroutine's end", r.Wait)
		if bufs, puts := pool.total(); bufs != 9 || puts != 9 {
			t.Fatalf("%d buffers given back %d times, want 9 once each", bufs, puts)
		}
	})
	t.Run("taken", func(t *testing.T) {
		pool := &countingPool{}
		r := newRecvAhead(context.Background(), heldSource(pool, "hello, ", "world"), 0, 0)
		var got []byte
		for {
			segs, done, err := r.TakeChunk()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range segs {
				got = append(got, s...)
			}
			if _, puts := pool.total(); puts != 0 && len(got) == len("hello, ") {
				t.Fatalf("%d buffers back before done", puts)
			}
			done()
		}
		if string(got) != "hello, world" {
			t.Fatalf("took %q", got)
		}
		r.release()
		testenv.Within(t, hangTimeout, "the reader goroutine's end", r.Wait)
		if bufs, puts := pool.total(); bufs != 6 || puts != 6 {
			t.Fatalf("%d buffers given back %d times, want 6 once each", bufs, puts)
		}
	})
	t.Run("released before the end", func(t *testing.T) {
		pool := &countingPool{}
		r := newRecvAhead(context.Background(), heldSource(pool, "abc", "def", "ghi", "jkl"), 0, 0)
		b := make([]byte, 4)
		if _, err := io.ReadFull(r, b); err != nil || string(b) != "abcd" {
			t.Fatalf("read %q, %v", b, err)
		}
		r.release()
		testenv.Within(t, hangTimeout, "the reader goroutine's end", r.Wait)
		r.release()
		bufs, puts := pool.total()
		if puts != bufs || bufs < 6 {
			t.Fatalf("%d buffers given back %d times, want each of at least 6 once", bufs, puts)
		}
		if _, err := r.Read(b); err == nil {
			t.Fatal("Read after release succeeded")
		}
	})
}

// A message over --max-msg-bytes is still refused by grpc-go before the
// codec sees it (RESOURCE_EXHAUSTED), and data messages under it, held by
// the codec, digest as GNU does.
func TestCodecMaxMessageSize(t *testing.T) {
	env := startEnv(t, envConfig{maxMsg: 64 << 10})
	in := randBytes(9, 60<<10)
	resp, err := digestCall(t, env, header(apiv1.Algorithm_ALGORITHM_SHA256), dataMsg(in), dataMsg(in[:1000]))
	if err != nil {
		t.Fatal(err)
	}
	if want := oracleHex(t, append(append([]byte{}, in...), in[:1000]...), "sha256sum"); resp.GetDigests()[0].GetHex() != want {
		t.Fatalf("digest %s, want %s", resp.GetDigests()[0].GetHex(), want)
	}
	_, err = digestCall(t, env, header(apiv1.Algorithm_ALGORITHM_SHA256), dataMsg(make([]byte, 65<<10)))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a 65 KiB message: %v, want RESOURCE_EXHAUSTED", err)
	}
}
