package server

import (
	"testing"

	apiv1 "github.com/halfclose/halfclose/api/halfclose/v1"
	"github.com/halfclose/halfclose/compute/digest"
)

// TestDigestCommand: a Digest job's command label is "digest:" and its
// algorithms' names in the header's order, comma-separated, whether it
// names one (a label made once) or several; and the header's algorithms
// land in the caller's arrays without leaking a previous call's.
func TestDigestCommand(t *testing.T) {
	all := digest.Algos()
	for _, a := range all {
		if got, want := digestCommand([]*digest.Algo{a}), "digest:"+a.Name; got != want {
			t.Errorf("digestCommand(%s) = %q, want %q", a.Name, got, want)
		}
	}
	if len(all) < 3 {
		t.Fatalf("only %d algorithms", len(all))
	}
	three := []*digest.Algo{all[2], all[0], all[1]}
	want := "digest:" + all[2].Name + "," + all[0].Name + "," + all[1].Name
	if got := digestCommand(three); got != want {
		t.Errorf("digestCommand = %q, want %q", got, want)
	}

	var d digestJobCall
	sha, md5 := apiv1.Algorithm_ALGORITHM_SHA256, apiv1.Algorithm_ALGORITHM_MD5
	for _, algs := range [][]apiv1.Algorithm{{sha}, {md5, sha}, {md5}} {
		job, order, err := digestJob(&apiv1.DigestHeader{Algorithms: algs}, d.algosBuf[:0], d.orderBuf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if len(order) != len(algs) || len(job.Algos) != len(algs) {
			t.Fatalf("%v: order %v, %d algorithms", algs, order, len(job.Algos))
		}
		for i, a := range algs {
			al, _ := digest.ByProto(a.String())
			if order[i] != a || job.Algos[i] != al {
				t.Errorf("%v: #%d is %v/%s", algs, i, order[i], job.Algos[i].Name)
			}
		}
	}
}
