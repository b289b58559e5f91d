package client

import (
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// sendCodec is grpc-go's proto codec, except that a data message the
// client made from one of its read buffers (see sendChunks) is not copied
// into a marshalled message: its encoding is the field's few bytes of tag
// and length, then the read buffer itself, handed to grpc-go as a
// mem.Buffer. grpc-go frees that buffer once it has written it to the
// connection (or no retry can need it any more), and only then does the
// buffer go back to the client's free list (sendBufs) to be read into
// again. So the input is read straight into the message's buffer and
// copied once, into the connection's write buffer.
type sendCodec struct{ encoding.CodecV2 }

var theSendCodec = sendCodec{encoding.GetCodecV2(proto.Name)}

// codecOption makes a call use sendCodec.
var codecOption = grpc.ForceCodecV2(theSendCodec)

// ownedData maps a data message being sent to the read buffer its data
// is, until Marshal takes it.
var ownedData sync.Map // *apiv1.DigestRequest or *apiv1.RunRequest → *sendBuf

// sendBuf is a read buffer and the free list it goes back to.
type sendBuf struct {
	b    *[]byte // the bytes sent: (*b)[:n] of a buffer of cap size
	pool *sendBufs
}

func (c sendCodec) Marshal(v any) (mem.BufferSlice, error) {
	var data []byte
	switch m := v.(type) {
	case *apiv1.DigestRequest:
		data = m.GetData()
	case *apiv1.RunRequest:
		data = m.GetData()
	}
	if len(data) > 0 {
		if o, ok := ownedData.LoadAndDelete(v); ok {
			sb := o.(*sendBuf)
			head := protowire.AppendVarint(protowire.AppendTag(make([]byte, 0, 11), 2, protowire.BytesType), uint64(len(data)))
			return mem.BufferSlice{mem.SliceBuffer(head), mem.NewBuffer(sb.b, sb.pool)}, nil
		}
	}
	return c.CodecV2.Marshal(v)
}

// sendBufs is a free list of read buffers of size bytes. A buffer is
// taken to read into, sent, and put back by grpc-go once written (Put:
// sendBufs is the mem.BufferPool of the buffers it lends). grpc-go's
// per-stream write quota bounds how many are in flight (a few); the
// sync.Pool lets idle ones go at the next GC. Calls with the default chunk
// size share one (defaultSendBufs), so that many small calls do not each
// allocate a buffer.
type sendBufs struct {
	size int
	pool sync.Pool
	out  atomic.Int64 // buffers taken by get and not yet Put back: none is lost (tests)
}

var defaultSendBufs = newSendBufs(DefaultChunkSize)

func newSendBufs(size int) *sendBufs { return &sendBufs{size: size} }

// get returns a buffer of len size.
func (p *sendBufs) get() *[]byte {
	p.out.Add(1)
	if b, ok := p.pool.Get().(*[]byte); ok {
		*b = (*b)[:p.size]
		return b
	}
	b := make([]byte, p.size)
	return &b
}

// Get is not used: mem.BufferPool's.
func (p *sendBufs) Get(n int) *[]byte { b := make([]byte, n); return &b }

// Put takes back a buffer grpc-go is done with.
func (p *sendBufs) Put(b *[]byte) {
	if cap(*b) == p.size {
		p.out.Add(-1)
		p.pool.Put(b)
	}
}

// frameData is the data an HTTP/2 DATA frame from grpc-go carries at
// most (its http2MaxFrameLen: SETTINGS_MAX_FRAME_SIZE's default, which
// grpc-go does not raise): it cuts a message into frames of this size.
const frameData = 16 << 10

// leadBytes is the size of a call's first data message when the later
// ones are chunk bytes: such that every frame of a later message but its
// first starts at a multiple of 16 KiB of the input. A message's data
// starts behind 5 bytes of gRPC prefix and the data field's tag and
// length, so a first message of just that many bytes (9 for 1 MiB
// chunks) makes each later message's first frame end on a multiple of
// 16 KiB; its whole chunks follow in frames of 16 KiB. A server then gets
// the input in 16 KiB pieces on 16 KiB boundaries: BLAKE3 hashes 16 of
// its 1 KiB chunks at once where they lie (the server's b3sum gathered
// every frame into a buffer of its own before: 0.09 CPU-s a GiB), and
// the 64-byte blocks of MD5 and the SHAs straddle frames once a message
// (its last frame holds the 9 bytes up to the next one's data), not in
// every frame. Any
// other chunk size (not a multiple of 16 KiB) keeps a whole first chunk.
func leadBytes(chunk int) int {
	if chunk%frameData != 0 {
		return chunk
	}
	return 5 + protowire.SizeTag(2) + protowire.SizeVarint(uint64(chunk))
}
