package server

import (
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	protov2 "google.golang.org/protobuf/proto"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute"
)

// requestCodec is grpc-go's proto codec, except that a ComputeService
// request that does not parse is the client's error (INVALID_ARGUMENT),
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

// malformedMsgs holds the requests the codec could not parse, until their
// handler looks (at once: unmarshalling happens inside its Recv).
var malformedMsgs sync.Map // request pointer → struct{}

func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	switch m := v.(type) {
	case *apiv1.DigestRequest, *apiv1.RunRequest, *apiv1.CapabilitiesRequest:
		protov2.Reset(m.(protov2.Message))
		malformedMsgs.Store(v, struct{}{})
		return nil
	}
	return err
}

// errMalformed is the verdict on a request that did not parse.
var errMalformed = compute.Invalidf("malformed message: not a valid protobuf request")

// malformed reports whether the codec could not parse m, and forgets it.
// Only an empty message can be one (the codec resets it).
func malformed(m any) bool {
	switch m := m.(type) {
	case *apiv1.DigestRequest:
		if m.GetMessage() != nil {
			return false
		}
	case *apiv1.RunRequest:
		if m.GetMessage() != nil {
			return false
		}
	}
	_, ok := malformedMsgs.LoadAndDelete(m)
	return ok
}
