package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// progressSize is over the CLI's 32 MiB threshold for progress.
const progressSize = 40 << 20

// ttyRun runs a shell command line in a tmux pane (a real terminal), with
// env added to the clean environment, and returns every byte the pane
// received (through pipe-pane, so lines erased later still count), what
// the command wrote to the file $OUT, and its exit status. The command
// waits for a key until pipe-pane is set up, so nothing is missed; a
// marker written after it tells that the log is complete.
func ttyRun(t *testing.T, env []string, cmdline string) (pane, out []byte, code string) {
	t.Helper()
	tmux := need(t, "tmux")
	dir := t.TempDir()
	sock, paneLog := filepath.Join(dir, "tmux.sock"), filepath.Join(dir, "pane.log")
	outFile, rcFile := filepath.Join(dir, "out"), filepath.Join(dir, "rc")
	script := fmt.Sprintf("read x; OUT=%s; %s; echo $? > %s; echo END''OF''RUN; read x", outFile, cmdline, rcFile)
	tm := func(args ...string) {
		t.Helper()
		c := exec.Command(tmux, append([]string{"-S", sock}, args...)...)
		c.Env = append(slices.DeleteFunc(cleanEnv(), func(kv string) bool { return strings.HasPrefix(kv, "CI=") }), env...)
		if b, err := c.CombinedOutput(); err != nil {
			t.Fatalf("tmux %q: %v\n%s", args, err, b)
		}
	}
	tm("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "20", "sh", "-c", script)
	t.Cleanup(func() { exec.Command(tmux, "-S", sock, "kill-server").Run() })
	tm("pipe-pane", "-o", "cat > "+paneLog)
	tm("send-keys", "Enter")
	deadline := time.Now().Add(defaultTestTimeout)
	for {
		b, _ := os.ReadFile(paneLog)
		if bytes.Contains(b, []byte("ENDOFRUN")) {
			pane = b[:bytes.Index(b, []byte("ENDOFRUN"))]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %v; pane:\n%q", cmdline, defaultTestTimeout, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, _ = os.ReadFile(outFile)
	rc, _ := os.ReadFile(rcFile)
	return pane, out, strings.TrimSpace(string(rc))
}

var progressLine = regexp.MustCompile(`\r(.*?)\x1b\[K`)

// TestProgressOnTerminal: a large upload shows bytes, rate and ETA on a
// terminal, and the line is erased before the output, which is GNU's; a
// pipe of unknown size shows its progress too; CI, --progress=false and a
// small input show nothing.
func TestProgressOnTerminal(t *testing.T) {
	g, _ := startDaemon(t)
	hc := bin(t, "halfclose")
	big, small := randomFile(t, progressSize), randomFile(t, 1<<20)
	want := gnu(t, big, "sha256sum")

	t.Run("file", func(t *testing.T) {
		pane, out, code := ttyRun(t, nil, fmt.Sprintf("%s --addr %s sha256sum < %s > $OUT", hc, g, big))
		if code != "0" || !bytes.Equal(out, want) {
			t.Fatalf("exit %s, output %q, want %q", code, out, want)
		}
		frames := progressLine.FindAllSubmatch(pane, -1)
		if len(frames) < 2 {
			t.Fatalf("no progress frames on the terminal: %q", pane)
		}
		if first := string(frames[0][1]); !regexp.MustCompile(`^0 B / 40\.0 MiB +0%  0 B/s$`).MatchString(first) {
			t.Errorf("first frame %q", first)
		}
		last := string(frames[len(frames)-2][1])
		if !regexp.MustCompile(`^40\.0 MiB / 40\.0 MiB  100%  [0-9.]+ [KMG]?i?B/s  in [0-9.hms]+$`).MatchString(last) {
			t.Errorf("last frame %q", last)
		}
		if !bytes.HasSuffix(pane, []byte("\r\x1b[K")) {
			t.Errorf("the line is not erased at the end: %q", pane[max(0, len(pane)-200):])
		}
		for _, f := range frames[1 : len(frames)-2] {
			if !regexp.MustCompile(`^[0-9.]+ [KMG]?i?B / 40\.0 MiB +[0-9]+%  [0-9.]+ [KMG]?i?B/s(  ETA [0-9.hms]+)?$`).Match(f[1]) {
				t.Errorf("frame %q", f[1])
			}
		}
	})
	t.Run("output on the terminal", func(t *testing.T) {
		pane, _, code := ttyRun(t, nil, fmt.Sprintf("%s --addr %s sha256sum < %s", hc, g, big))
		wantTTY := bytes.ReplaceAll(want, []byte("\n"), []byte("\r\n"))
		if code != "0" || !bytes.Contains(pane, append([]byte("\r\x1b[K"), wantTTY...)) {
			t.Errorf("exit %s; the output does not follow the erased line: %q", code, pane[max(0, len(pane)-200):])
		}
	})
	t.Run("pipe of unknown size", func(t *testing.T) {
		pane, out, code := ttyRun(t, nil, fmt.Sprintf("cat %s | %s --addr %s sha256sum > $OUT", big, hc, g))
		if code != "0" || !bytes.Equal(out, want) {
			t.Fatalf("exit %s, output %q, want %q", code, out, want)
		}
		if !regexp.MustCompile(`\r40\.0 MiB  [0-9.]+ [KMG]?i?B/s  in [0-9.hms]+\x1b\[K`).Match(pane) {
			t.Errorf("no final progress frame: %q", pane)
		}
	})
	for _, tc := range []struct {
		name, env, flags, input string
	}{
		{"CI set", "CI=true", "", big},
		{"--progress=false", "", "--progress=false", big},
		{"small input", "", "", small},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			if tc.env != "" {
				env = []string{tc.env}
			}
			pane, out, code := ttyRun(t, env, fmt.Sprintf("%s --addr %s %s sha256sum < %s > $OUT", hc, g, tc.flags, tc.input))
			if code != "0" || !bytes.Equal(out, gnu(t, tc.input, "sha256sum")) {
				t.Fatalf("exit %s, output %q", code, out)
			}
			if bytes.Contains(pane, []byte("B/s")) || bytes.Contains(pane, []byte("\x1b[K")) {
				t.Errorf("progress shown: %q", pane)
			}
		})
	}
}

// TestProgressPipe: stderr a pipe shows nothing for a large upload; -P
// then prints plain lines, the last one complete.
func TestProgressPipe(t *testing.T) {
	g, _ := startDaemon(t)
	hc := bin(t, "halfclose")
	big := randomFile(t, progressSize)
	want := gnu(t, big, "sha256sum")
	r := run(t, "", big, hc, "--addr", g, "sha256sum")
	if r.code != 0 || !bytes.Equal(r.stdout, want) || len(r.stderr) != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q; want GNU's output and no stderr", r.code, r.stdout, r.stderr)
	}
	r = run(t, "", big, hc, "--addr", g, "-P", "sha256sum")
	lines := strings.Split(strings.TrimSuffix(string(r.stderr), "\n"), "\n")
	if r.code != 0 || !bytes.Equal(r.stdout, want) || len(lines) < 2 || strings.Contains(string(r.stderr), "\x1b") {
		t.Fatalf("-P: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(`^halfclose: 0 B / 40\.0 MiB +0%  0 B/s$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^halfclose: 40\.0 MiB / 40\.0 MiB  100%  [0-9.]+ [KMG]?i?B/s  in [0-9.hms]+$`).MatchString(lines[len(lines)-1]) {
		t.Errorf("-P lines: %q", lines)
	}
}
