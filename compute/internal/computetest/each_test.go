package computetest

import (
	"bytes"
	"testing"
)

// TestGNUEachIsGNUAlone checks the batch against its oracle, GNU grep run
// on each input alone: wherever GNUEachStderr splits its run, each
// input's share is what GNU alone prints for it, with the same standard
// error, and the exit status EachStatus tells from that share, where it
// tells one, is GNU's. A wrong split or status would let a wrong grep
// pass the batched checks. The inputs hold lines that look like another
// file's prefix ("in001:", "in000-") or a group separator, lines with
// no final newline, and an empty input.
func TestGNUEachIsGNUAlone(t *testing.T) {
	t.Parallel()
	inputs := [][]byte{
		[]byte("a\nx\nb\nin001:a\nx\n--\nb\na"),
		[]byte(""),
		[]byte("in000-x\n-\n:\nb\nb\nb\nab\n"),
		[]byte("x\n"),
		[]byte("b\nb\n--\nb\n"),
		[]byte("a-b\nin000\n\nxa"),
	}
	argvs := [][]string{
		{"grep", "a"}, {"grep", "-v", "a"}, {"grep", "-c", "a"}, {"grep", "-c", "-m0", "a"},
		{"grep", "-cm0", "x"}, {"grep", "-m0", "a"}, {"grep", "-c", "-v", "-m1", "a"},
		{"grep", "-o", "x*"}, {"grep", "-vo", "-A1", "a"}, {"grep", "-o", "-C1", "x"},
		{"grep", "-A1", "a"}, {"grep", "-B2", "-n", "x"}, {"grep", "-1", "-b", "b"},
		{"grep", "-m1", "-A1", "a"}, {"grep", "-C0", "b"}, {"grep", "-A1", "--group-separator=", "x"},
		{"grep", "-A1", "--group-separator", "in000", "a"}, {"grep", "-A1", "--no-group-separator", "a"},
		{"grep", "--context=1", "-v", "b"}, {"grep", "-nbo", "-e", "-", "-e:"}, {"grep", "-x", "-e", ""},
		{"grep", "-wiE", "a|x"}, {"grep", "-F", "--", "x"},
	}
	split := 0
	for _, argv := range argvs {
		outs, stderr := GNUEachStderr(t, inputs, argv...)
		if outs == nil {
			continue
		}
		split++
		for i, in := range inputs {
			out, errOut, code := GNUStatusStderr(t, in, argv...)
			want, told := EachStatus(argv, outs[i])
			switch {
			case !bytes.Equal(outs[i], out):
				t.Errorf("%q on %q: the batch gives %q, GNU alone %q", argv, in, outs[i], out)
			case !bytes.Equal(stderr, errOut):
				t.Errorf("%q on %q: the batch's stderr %q, GNU alone's %q", argv, in, stderr, errOut)
			case told && want != code:
				t.Errorf("%q on %q: EachStatus tells %d from %q, GNU alone exits %d", argv, in, want, outs[i], code)
			}
		}
	}
	if split < len(argvs)/2 {
		t.Errorf("only %d of %d command lines split: the check checks little", split, len(argvs))
	}
}
