package text

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// failAfter takes n bytes, then fails every write.
type failAfter struct {
	bytes.Buffer
	n int
}

var errFull = errors.New("full")

func (f *failAfter) Write(p []byte) (int, error) {
	if f.Len()+len(p) > f.n {
		return 0, errFull
	}
	return f.Buffer.Write(p)
}

// TestLineOut: lines (short, and longer than a buffer) come out in order,
// synchronous or written by the goroutine; a failing writer's error comes
// back from line or flush, and close ends the goroutine either way.
func TestLineOut(t *testing.T) {
	var lines [][]byte
	var want bytes.Buffer
	for i := range 3000 {
		l := []byte(fmt.Sprint(i))
		if i%700 == 0 {
			l = bytes.Repeat([]byte{'x'}, 5000) // longer than a buffer
		}
		lines = append(lines, l)
		want.Write(l)
		want.WriteByte('\n')
	}
	for _, async := range []bool{false, true} {
		var got bytes.Buffer
		o := newLineOut(&got, 1024, async)
		for _, l := range lines {
			if err := o.line(l); err != nil {
				t.Fatal(err)
			}
		}
		if err := o.flush(); err != nil {
			t.Fatal(err)
		}
		o.close()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("async %v: output differs", async)
		}
		for _, limit := range []int{0, 3000, want.Len() - 1} {
			f := &failAfter{n: limit}
			o := newLineOut(f, 1024, async)
			var err error
			for _, l := range lines {
				if err = o.line(l); err != nil {
					break
				}
			}
			if err == nil {
				err = o.flush()
			}
			o.close()
			if !errors.Is(err, errFull) {
				t.Fatalf("async %v, limit %d: %v, want the writer's error", async, limit, err)
			}
		}
	}
}
