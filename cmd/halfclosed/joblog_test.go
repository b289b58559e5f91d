package main

import (
	"bufio"
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJobLogLines: each job has one log line with its id, peer, command,
// bytes, duration and outcome — on gRPC the middleware's call line, on TCP
// a line of its own.
func TestJobLogLines(t *testing.T) {
	d := startDaemon(t, "--log-level=info")
	c := grpcClient(t, d.grpcAddr())
	var out strings.Builder
	if _, err := c.Run(testCtx(t), "wc -l", strings.NewReader("a\nb\n"), &out); err != nil {
		t.Fatal(err)
	}
	if reply, err := tcpJob(t, d.tcpAddr(), nil, "sha256sum\n", []byte("abc")); err != nil || reply == "" {
		t.Fatalf("tcp: %q, %v", reply, err)
	}
	if _, err := c.Run(testCtx(t), "nosuchcmd", strings.NewReader("x"), &out); err == nil {
		t.Fatal("bad pipeline accepted")
	}

	type line struct {
		Msg     string
		Peer    string `json:"peer"`
		GRPC    string `json:"peer.address"`
		Adapter string `json:"adapter"`
		Job     *struct {
			ID       string `json:"id"`
			Command  string `json:"command"`
			InBytes  int64  `json:"in_bytes"`
			OutBytes int64  `json:"out_bytes"`
			Duration int64  `json:"duration"`
			Outcome  string `json:"outcome"`
			Error    string `json:"error"`
		} `json:"job"`
	}
	var jobs []line
	deadline := time.Now().Add(defaultTestTimeout)
	for len(jobs) < 3 && time.Now().Before(deadline) {
		jobs = jobs[:0]
		sc := bufio.NewScanner(strings.NewReader(d.logs.String()))
		for sc.Scan() {
			var l line
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Job != nil {
				jobs = append(jobs, l)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(jobs) != 3 {
		t.Fatalf("%d job lines, want 3:\n%s", len(jobs), d.logs)
	}
	// In the order of the calls — but a gRPC call's line is written after
	// its reply, so a later call's line may come first: each expected line
	// is found by its command.
	want := []struct{ msg, command, outcome string }{
		{"finished call", "wc", "ok"}, {"job", "sha256sum", "ok"}, {"finished call", "", "invalid"},
	}
	byCommand := map[string]line{}
	for _, l := range jobs {
		byCommand[l.Job.Command] = l
	}
	if len(byCommand) != 3 {
		t.Fatalf("job lines of %d commands, want 3:\n%s", len(byCommand), d.logs)
	}
	jobs = jobs[:0]
	for _, w := range want {
		jobs = append(jobs, byCommand[w.command])
	}
	for i, w := range want {
		l := jobs[i]
		switch {
		case l.Msg != w.msg || l.Job.Command != w.command || l.Job.Outcome != w.outcome:
			t.Errorf("job line %d: %+v %+v, want %+v", i, l, *l.Job, w)
		case l.Job.ID == "" || l.Peer == "" && l.GRPC == "":
			t.Errorf("job line %d has no id or peer: %+v", i, l)
		}
	}
	if j := jobs[0].Job; j.InBytes != 4 || j.OutBytes != 2 || j.Duration <= 0 {
		t.Errorf("gRPC job bytes/duration: %+v", *j)
	}
	if j := jobs[1]; j.Adapter != "tcp" || j.Job.InBytes != 3 || j.Job.OutBytes != 68 {
		t.Errorf("TCP job: %+v %+v", j, *j.Job)
	}
	if !strings.Contains(jobs[2].Job.Error, `unknown command "nosuchcmd"`) {
		t.Errorf("invalid job error %q", jobs[2].Job.Error)
	}

	// docs/operations.md, "Logs", lists the fields of a call's line: those
	// of the two lines above, an ok one and a failed one, both with a
	// deadline, and no other (it left out grpc.method_type and
	// grpc.request.deadline).
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("\\(`msg=\"finished call\"`: ([a-z._,\\s]+?) —").FindSubmatch(doc)
	if m == nil {
		t.Fatal(`docs/operations.md does not list the fields of a "finished call" line`)
	}
	documented := strings.Fields(strings.ReplaceAll(string(m[1]), ",", " "))
	slices.Sort(documented)
	keys := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(d.logs.String()))
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "finished call" && l["grpc.service"] == "halfclose.v1.ComputeService" {
			for k := range l {
				keys[k] = true
			}
		}
	}
	for _, k := range []string{"time", "level", "msg", "job"} {
		delete(keys, k)
	}
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, documented) {
		t.Errorf("a call's log line has the fields %q; docs/operations.md lists %q", got, documented)
	}
}
