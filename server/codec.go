package server

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	protov2 "google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
)

// requestCodec is grpc-go's proto codec with two changes for the
// ComputeService's requests.
//
// A data message (a DigestRequest or RunRequest whose only field is
// data) is not copied: grpc-go hands the codec the message as the buffers
// it received the HTTP/2 frames in (a mem.BufferSlice), and the codec
// keeps a reference to them (heldData) instead of materializing them and
// letting protobuf copy the bytes again. The message's data field is left
// nil; the handler takes the held bytes (takeHeld) and the job reads them
// in place, and they go back to grpc-go's pool once the job has used them
// up (release, exactly once). Any other message is unmarshalled as usual.
//
// A request that does not parse is the client's error (INVALID_ARGUMENT),
// not the server's: grpc-go makes any unmarshal error INTERNAL, whatever
// the codec returns. So for those requests the codec does not fail: it
// leaves the message empty and marks it malformed, and the handler, which
// checks every message it receives (malformed), answers INVALID_ARGUMENT.
// Other services' messages (health, reflection) fail as usual.
type requestCodec struct{ encoding.CodecV2 }

// CodecOption is the server option installing the codec.
func CodecOption() grpc.ServerOption {
	return grpc.ForceServerCodecV2(requestCodec{encoding.GetCodecV2(proto.Name)})
}

// codecNotes holds, per request pointer, what the codec tells the handler:
// the verdict on a request it could not parse (malformedError), or the *heldData of a
// data message. The handler takes the note at once: unmarshalling happens
// inside its Recv.
var codecNotes sync.Map // request pointer → error or *heldData

// heldData is a data message's bytes as references into the buffers
// grpc-go received them in.
type heldData struct {
	bufs  mem.BufferSlice // one reference each, freed by release
	segs  [][]byte        // the data, in order: views of bufs
	n     int             // total length of segs
	freed atomic.Bool
}

// release gives the buffers back to grpc-go's pool; only the first call
// does. Nothing may read segs after it.
func (h *heldData) release() {
	if h != nil && h.freed.CompareAndSwap(false, true) {
		h.bufs.Free()
	}
}

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *apiv1.DigestRequest:
		if h := holdData(data); h != nil {
			m.Message = &apiv1.DigestRequest_Data{}
			codecNotes.Store(v, h)
			return nil
		}
	case *apiv1.RunRequest:
		if h := holdData(data); h != nil {
			m.Message = &apiv1.RunRequest_Data{}
			codecNotes.Store(v, h)
			return nil
		}
	}
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	switch m := v.(type) {
	case *apiv1.DigestRequest, *apiv1.RunRequest, *apiv1.CapabilitiesRequest:
		pm := m.(protov2.Message)
		protov2.Reset(pm)
		codecNotes.Store(v, malformedError(data, pm.ProtoReflect().Descriptor()))
		return nil
	}
	return err
}

// malformedError is the verdict on a request of descriptor md that did
// not parse: errMalformed, or, when a string field is not UTF-8 (which
// protobuf refuses), a message naming that field.
func malformedError(data mem.BufferSlice, md protoreflect.MessageDescriptor) error {
	if path := badUTF8(data.Materialize(), md, 0); path != "" {
		return compute.Invalidf("malformed message: %s is not valid UTF-8", path)
	}
	return errMalformed
}

// badUTF8 returns the path of the first string field that is not UTF-8
// in b, a message of descriptor md ("text", "header.pipeline",
// "end.digests.hex"), or "" when there is none or b does not parse.
func badUTF8(b []byte, md protoreflect.MessageDescriptor, depth int) string {
	if depth > 8 { // the API nests 3 deep
		return ""
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if fd := md.Fields().ByNumber(num); fd != nil && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return ""
			}
			b = b[n:]
			switch fd.Kind() {
			case protoreflect.StringKind:
				if !utf8.Valid(v) {
					return string(fd.Name())
				}
			case protoreflect.MessageKind:
				if p := badUTF8(v, fd.Message(), depth+1); p != "" {
					return string(fd.Name()) + "." + p
				}
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return ""
		}
		b = b[n:]
	}
	return ""
}

// dataTag is the key of field 2 (data), length-delimited, in both
// DigestRequest and RunRequest.
var dataTag = protowire.AppendTag(nil, 2, protowire.BytesType)

// holdData returns the data of a message that is one non-empty data
// field and nothing else, referencing data's buffers (Ref'd: the caller
// of Unmarshal frees its own reference when it returns); nil for any
// other message, which the proto codec then parses.
func holdData(data mem.BufferSlice) *heldData {
	total := data.Len()
	// The tag and the length's varint, which may straddle buffers.
	var head [1 + binary.MaxVarintLen64]byte
	k := 0
	for _, b := range data {
		k += copy(head[k:], b.ReadOnlyData())
		if k == len(head) {
			break
		}
	}
	if k < 2 || head[0] != dataTag[0] {
		return nil
	}
	n, vlen := protowire.ConsumeVarint(head[1:k])
	if vlen < 0 || n == 0 || uint64(total) != uint64(1+vlen)+n {
		return nil
	}
	h := &heldData{bufs: data, n: int(n), segs: make([][]byte, 0, len(data))}
	skip := 1 + vlen
	for _, b := range data {
		d := b.ReadOnlyData()
		if skip >= len(d) {
			skip -= len(d)
			continue
		}
		h.segs = append(h.segs, d[skip:])
		skip = 0
	}
	data.Ref()
	return h
}

// errMalformed is the verdict on a request that did not parse.
var errMalformed = compute.Invalidf("malformed message: not a valid protobuf request")

// takeNote returns what the codec noted about m, and forgets it: the
// held bytes of a data message, and the verdict on m when it could not
// parse it. Only a message whose oneof is empty or data can have a note.
func takeNote(m any) (held *heldData, malformed error) {
	switch m := m.(type) {
	case *apiv1.DigestRequest:
		switch m.GetMessage().(type) {
		case nil, *apiv1.DigestRequest_Data:
		default:
			return nil, nil
		}
	case *apiv1.RunRequest:
		switch m.GetMessage().(type) {
		case nil, *apiv1.RunRequest_Data:
		default:
			return nil, nil
		}
	}
	note, ok := codecNotes.LoadAndDelete(m)
	if !ok {
		return nil, nil
	}
	if h, ok := note.(*heldData); ok {
		return h, nil
	}
	return nil, note.(error)
}

// malformed returns the verdict on m (a unary request) when the codec
// could not parse it, and forgets it.
func malformed(m any) error {
	held, bad := takeNote(m)
	held.release()
	return bad
}
