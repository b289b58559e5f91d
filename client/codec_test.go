package client

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
)

// A data message whose buffer the client owns is encoded as protobuf
// would encode it, with the buffer itself (no copy), which goes back to
// its free list once grpc-go frees it, and only then; other messages are
// marshalled as usual.
func TestSendCodec(t *testing.T) {
	for _, size := range []int{1, 127, 128, 300, 70000} {
		bufs := newSendBufs(size + 1)
		bp := bufs.get()
		for k := range 2 {
			for i := range *bp {
				(*bp)[i] = byte(i + k)
			}
			*bp = (*bp)[:size]
			m := any(&apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: *bp}})
			if k == 1 {
				m = &apiv1.RunRequest{Message: &apiv1.RunRequest_Data{Data: *bp}}
			}
			want, err := proto.Marshal(m.(proto.Message))
			if err != nil {
				t.Fatal(err)
			}
			ownedData.Store(m, &sendBuf{b: bp, pool: bufs})
			got, err := theSendCodec.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if _, still := ownedData.Load(m); still {
				t.Fatal("the codec did not take the buffer")
			}
			if !bytes.Equal(got.Materialize(), want) {
				t.Fatalf("size %d: encoding differs from protobuf's", size)
			}
			if len(got) != 2 || &got[1].ReadOnlyData()[0] != &(*bp)[0] {
				t.Fatalf("size %d: the data was copied", size)
			}
			got.Free()
			back := bufs.get()
			if &(*back)[0] != &(*bp)[0] {
				// sync.Pool may drop what it was given (a GC): not an
				// error, but then nothing more can be checked here.
				t.Logf("size %d: the freed buffer was not reused", size)
			}
			bp = back
		}
	}
	// Not owned: protobuf's encoding, a copy.
	data := []byte("hello")
	m := &apiv1.DigestRequest{Message: &apiv1.DigestRequest_Data{Data: data}}
	got, err := theSendCodec.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Free()
	want, _ := proto.Marshal(m)
	if !bytes.Equal(got.Materialize(), want) {
		t.Fatal("encoding differs from protobuf's")
	}
}
