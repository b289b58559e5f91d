package validate

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// dockerfile is the image's recipe, relative to this package.
const dockerfile = "../Dockerfile"

// instructions returns the Dockerfile's instructions, continuation lines
// joined and comments dropped, as [keyword, rest] pairs.
func instructions(t *testing.T) [][2]string {
	t.Helper()
	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	var cur string
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || trimmed == "" && cur == "" {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		kw, rest, _ := strings.Cut(cur, " ")
		out = append(out, [2]string{strings.ToUpper(kw), strings.TrimSpace(rest)})
		cur = ""
	}
	return out
}

// TestDockerfile: a multi-stage build whose last stage is a minimal image
// (scratch or distroless static) running the binary as a non-root user,
// in exec form, with nothing that needs a shell.
func TestDockerfile(t *testing.T) {
	ins := instructions(t)
	var stages []int // index of each FROM
	for i, in := range ins {
		if in[0] == "FROM" {
			stages = append(stages, i)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages: want a build stage and a run stage", len(stages))
	}
	final := ins[stages[len(stages)-1]:]
	base := strings.Fields(final[0][1])[0]
	if base != "scratch" && !regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?(:nonroot)?(@sha256:[0-9a-f]{64})?$`).MatchString(base) {
		t.Errorf("run stage FROM %s: want scratch or distroless static", base)
	}
	var user, entrypoint string
	for _, in := range final[1:] {
		switch in[0] {
		case "RUN", "SHELL":
			t.Errorf("run stage has %s %s: the image has no shell", in[0], in[1])
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entrypoint = in[1]
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || strings.Trim(uid, "0123456789") != "" {
		t.Errorf("USER %q: want a numeric non-root uid (runAsNonRoot can only verify a number)", user)
	}
	if !strings.HasPrefix(entrypoint, "[") {
		t.Errorf("ENTRYPOINT %s: want the exec form, so halfclosed is PID 1 and gets SIGTERM", entrypoint)
	}
}

// TestStaticBinary runs the Dockerfile's own go build command (output to a
// temporary directory) and checks the binary needs no libc: file(1) says
// statically linked and ldd(1) says not a dynamic executable.
func TestStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds halfclosed")
	}
	for _, tool := range []string{"file", "ldd", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI: %v", tool, err)
			}
			t.Skipf("%s: %v", tool, err)
		}
	}
	var build string
	for _, in := range instructions(t) {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			build = in[1]
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /out/halfclosed", "./cmd/halfclosed"} {
		if !strings.Contains(build, want) {
			t.Fatalf("the Dockerfile's build command %q lacks %s", build, want)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(build, "/out/", out+"/"))
	cmd.Dir = filepath.Join("..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	bin := filepath.Join(out, "halfclosed")
	f, err := exec.Command("file", "-b", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(f, []byte("statically linked")) || bytes.Contains(f, []byte("interpreter")) {
		t.Errorf("file: %s", f)
	}
	l, err := exec.Command("ldd", bin).CombinedOutput()
	if !bytes.Contains(l, []byte("not a dynamic executable")) {
		t.Errorf("ldd: %v %s", err, l)
	}
	if bytes.Contains(f, []byte("not stripped")) {
		t.Errorf("file: %s (want -ldflags '-s -w')", f)
	}
	// -trimpath: no path of this machine's checkout in the binary.
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if bytes.Contains(data, []byte(root)) {
		t.Errorf("the binary contains the build path %s", root)
	}
	t.Logf("file: %s", bytes.TrimSpace(f))
}

// TestImageCmd: the run stage's default CMD, what `docker run` starts
// with no arguments, listens where a container can be reached and where
// the image EXPOSEs, and is a command line halfclosed takes
// (--print-limits checks the flags as a start would, opening nothing).
// Kubernetes replaces it (TestDeployment checks the Deployment's args),
// so nothing else would notice a flag renamed under it, or an address
// left at the binary's loopback default.
func TestImageCmd(t *testing.T) {
	ins := instructions(t)
	last := 0
	for i, in := range ins {
		if in[0] == "FROM" {
			last = i
		}
	}
	var cmd []string
	exposed := map[int32]bool{}
	for _, in := range ins[last+1:] {
		switch in[0] {
		case "CMD":
			if err := json.Unmarshal([]byte(in[1]), &cmd); err != nil {
				t.Fatalf("CMD %s: want the exec form (a JSON array of flags): %v", in[1], err)
			}
		case "EXPOSE":
			for _, p := range strings.Fields(in[1]) {
				n, err := strconv.ParseInt(strings.TrimSuffix(p, "/tcp"), 10, 32)
				if err != nil {
					t.Fatalf("EXPOSE %s: %v", p, err)
				}
				exposed[int32(n)] = true
			}
		}
	}
	if cmd == nil {
		t.Fatal("no CMD: the binary's defaults listen on loopback, unreachable from outside the container")
	}
	flags := flagArgs(t, cmd)
	for _, f := range []string{"grpc-addr", "tcp-addr", "health-addr", "metrics-addr"} {
		addr, ok := flags[f]
		switch {
		case !ok && f != "metrics-addr":
			// --metrics-addr is off by default; the others are on, on
			// loopback.
			t.Errorf("CMD has no --%s: its default listens on loopback, unreachable from outside the container", f)
		case ok && addr != "":
			if p := portOf(t, f, addr); !exposed[p] {
				t.Errorf("CMD --%s=%s: port %d is not EXPOSEd", f, addr, p)
			}
		}
	}
	bin := halfclosedBin(t)
	run := exec.Command(bin, append(cmd, "--print-limits")...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "HALFCLOSE_") { // the image sets none
			run.Env = append(run.Env, e)
		}
	}
	if out, err := run.CombinedOutput(); err != nil {
		t.Errorf("halfclosed %s: %v\n%s", strings.Join(cmd, " "), err, out)
	}
}
