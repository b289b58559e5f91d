package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpAndVersion: both binaries answer --help (stdout, exit 0) and
// --version (the build's version and Go's), and a bad flag exits 2 with a
// hint.
func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"halfclose", "halfclosed"} {
		for _, arg := range []string{"--help", "-h"} {
			r := run(t, "", "", bin(t, b), arg)
			if r.code != 0 || len(r.stderr) != 0 || !bytes.HasPrefix(r.stdout, []byte("Usage: "+b+" ")) {
				t.Errorf("%s %s: exit %d, stderr %q, stdout %.60q", b, arg, r.code, r.stderr, r.stdout)
			}
		}
		r := run(t, "", "", bin(t, b), "--version")
		if r.code != 0 || !bytes.HasPrefix(r.stdout, []byte(b+" ")) || !bytes.Contains(r.stdout, []byte(" go1.")) {
			t.Errorf("%s --version: exit %d, %q", b, r.code, r.stdout)
		}
		r = run(t, "", "", bin(t, b), "--no-such-flag")
		if r.code != 2 || !bytes.Contains(r.stderr, []byte("Try '"+b+" --help'")) {
			t.Errorf("%s --no-such-flag: exit %d, stderr %q", b, r.code, r.stderr)
		}
	}
	// A route that does not compile is a bad flag value: exit 2, named,
	// with a suggestion.
	r := run(t, "", "", bin(t, "halfclosed"), "--grpc-addr", "127.0.0.1:0", "--tcp-route", "127.0.0.1:0=sha256summ")
	if r.code != 2 || !bytes.Contains(r.stderr, []byte(`unknown command "sha256summ" (did you mean "sha256sum"?)`)) {
		t.Errorf("bad route: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestClearErrors: the wrong protocol on either port, an unknown host, a
// misspelt command, and files GNU would quote are reported as such.
func TestClearErrors(t *testing.T) {
	t.Parallel()
	g, tcp := startDaemon(t)
	hc := bin(t, "halfclose")
	in := randomFile(t, 65537)
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"--tcp", "--tcp-addr", g, "sha256sum"}, "halfclose: " + g + " answered in HTTP/2: it is a gRPC port, not a raw-TCP port (drop --tcp and use --addr " + g + ")\n"},
		{[]string{"--addr", tcp, "sha256sum"}, "halfclose: UNAVAILABLE: " + tcp + " does not speak gRPC (is it a raw-TCP port of halfclosed? then use --tcp --tcp-addr " + tcp + ")\n"},
		{[]string{"--addr", "no-such-host.invalid:50051", "sha256sum"}, `halfclose: UNAVAILABLE: cannot resolve host "no-such-host.invalid" (--addr no-such-host.invalid:50051): `},
		{[]string{"--tcp", "--tcp-addr", "no-such-host.invalid:50052", "sha256sum"}, `halfclose: cannot resolve host "no-such-host.invalid" (--tcp-addr no-such-host.invalid:50052): `},
		{[]string{"--addr", g, "sha256summ"}, `halfclose: INVALID_ARGUMENT: unknown command "sha256summ" (did you mean "sha256sum"?)` + "\n"},
		{[]string{"--tcp", "--tcp-addr", tcp, "grep x | srot"}, `halfclose: INVALID_ARGUMENT: unknown command "srot" (did you mean "sort"?)` + "\n"},
	} {
		r := run(t, "", in, append([]string{hc}, tc.argv...)...)
		if r.code != 1 || len(r.stdout) != 0 || !strings.HasPrefix(string(r.stderr), tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.argv, r.code, r.stdout, r.stderr, tc.want)
		}
	}

	// grpcurl on the command port gets a status naming the port.
	r := run(t, "", "", bin(t, "grpcurl"), "-plaintext", tcp, "list")
	if r.code == 0 || !bytes.Contains(r.stderr, []byte("halfclose raw-TCP port")) {
		t.Errorf("grpcurl list on the TCP port: exit %d, stderr %q", r.code, r.stderr)
	}

	// File errors are GNU's, byte for byte (quoting included).
	dir := t.TempDir()
	writeFile(t, dir, "ok", []byte("x\n"))
	if err := os.Mkdir(filepath.Join(dir, "a dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{"ok", "*.go", "it's", "a dir", "tab\there", "ok"}
	want := runPiped(t, dir, in, append([]string{"md5sum"}, names...)...)
	got := run(t, dir, in, append([]string{hc, "--addr", g, "md5sum"}, names...)...)
	if got.code != want.code || !bytes.Equal(got.stdout, want.stdout) || !bytes.Equal(got.stderr, want.stderr) {
		t.Errorf("files: exit %d (GNU %d)\nstdout %q\n   GNU %q\nstderr %q\n   GNU %q", got.code, want.code, got.stdout, want.stdout, got.stderr, want.stderr)
	}
}

// TestListCommands: `halfclose commands` and --list print every command
// the server has, with its flags; --list-names only the names.
func TestListCommands(t *testing.T) {
	t.Parallel()
	g, _ := startDaemon(t)
	hc := bin(t, "halfclose")
	names := run(t, "", "", hc, "--addr", g, "--list-names")
	list := run(t, "", "", hc, "--addr", g, "commands")
	list2 := run(t, "", "", hc, "--addr", g, "--list")
	if names.code != 0 || list.code != 0 || !bytes.Equal(list.stdout, list2.stdout) {
		t.Fatalf("exit %d/%d; commands and --list differ:\n%s\n%s", names.code, list.code, list.stdout, list2.stdout)
	}
	got := strings.Fields(string(names.stdout))
	for _, want := range []string{"md5sum", "sha256sum", "b3sum", "wc", "grep", "sort", "uniq", "head", "tail", "tac", "cut", "tr", "base64", "gzip", "gunzip"} {
		found := false
		for _, n := range got {
			found = found || n == want
		}
		if !found {
			t.Errorf("--list-names lacks %s: %q", want, got)
		}
		if !strings.Contains(string(list.stdout), "\n"+want+" ") && !strings.HasPrefix(string(list.stdout), want+" ") {
			t.Errorf("commands lacks %s", want)
		}
	}
	for _, flag := range []string{"\n  --line-number ", "\n  --tag ", "\n  --length N ", "\nLimits: input up to 16GiB per job", ", 64 jobs at once (16 from one address), "} {
		if !strings.Contains(string(list.stdout), flag) {
			t.Errorf("commands lacks %q:\n%s", flag, list.stdout)
		}
	}
}

// TestInstall: make install puts the binaries, man pages and completions
// under DESTDIR/PREFIX; the scripts parse in bash, zsh and fish, name
// every flag, and complete flags, the server's commands and files.
func TestInstall(t *testing.T) {
	t.Parallel()
	need(t, "make")
	bash, zsh, fish := need(t, "bash"), need(t, "zsh"), need(t, "fish")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	r := runBuild(t, root, "make", "-s", "install", "DESTDIR="+dest, "PREFIX=/usr", "BIN="+binDir(t))
	if r.code != 0 {
		t.Fatalf("make install: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	usr := filepath.Join(dest, "usr")
	for _, c := range []string{"halfclose", "halfclosed"} {
		files := map[string]string{
			"bin/" + c: "", "share/man/man1/" + c + ".1": ".TH " + strings.ToUpper(c) + " 1",
			"share/bash-completion/completions/" + c:         "complete -o filenames -F _" + c + " " + c,
			"share/zsh/site-functions/_" + c:                 "#compdef " + c,
			"share/fish/vendor_completions.d/" + c + ".fish": "complete -c " + c,
		}
		for f, want := range files {
			b, err := os.ReadFile(filepath.Join(usr, f))
			if err != nil || !bytes.Contains(b, []byte(want)) {
				t.Errorf("%s: %v, want it to contain %q", f, err, want)
			}
		}
		for _, check := range [][]string{
			{bash, "-n", filepath.Join(usr, "share/bash-completion/completions", c)},
			{zsh, "-n", filepath.Join(usr, "share/zsh/site-functions", "_"+c)},
			{fish, "--no-execute", filepath.Join(usr, "share/fish/vendor_completions.d", c+".fish")},
		} {
			if r := run(t, "", "", check...); r.code != 0 {
				t.Errorf("%q: exit %d: %s", check, r.code, r.stderr)
			}
		}
		// Every flag --help lists is in every script and the man page.
		help := run(t, "", "", filepath.Join(usr, "bin", c), "--help")
		for _, line := range strings.Split(string(help.stdout), "\n") {
			f := strings.Fields(line)
			// Flag lines are indented by 2 or 6; wrapped text by more.
			indent := len(line) - len(strings.TrimLeft(line, " "))
			if indent != 2 && indent != 6 || len(f) == 0 || !strings.HasPrefix(f[0], "-") {
				continue
			}
			flag := f[0]
			if len(f) > 1 && strings.HasPrefix(f[1], "--") {
				flag = f[1]
			}
			flag = strings.TrimSuffix(flag, ",")
			for _, file := range []string{"share/bash-completion/completions/" + c, "share/zsh/site-functions/_" + c, "share/fish/vendor_completions.d/" + c + ".fish"} {
				b, _ := os.ReadFile(filepath.Join(usr, file))
				name := flag
				if strings.HasSuffix(file, ".fish") {
					name = "-l " + strings.TrimPrefix(flag, "--") + " "
				}
				if !bytes.Contains(b, []byte(name)) {
					t.Errorf("%s does not complete %s", file, flag)
				}
			}
			man, _ := os.ReadFile(filepath.Join(usr, "share/man/man1", c+".1"))
			if !bytes.Contains(man, []byte(strings.ReplaceAll(flag, "-", `\-`))) {
				t.Errorf("%s.1 does not document %s", c, flag)
			}
		}
	}

	// The completions at work, against a live server for command names.
	g, _ := startDaemon(t)
	hc := filepath.Join(usr, "bin", "halfclose")
	bashComp := filepath.Join(usr, "share/bash-completion/completions/halfclose")
	complete := func(words ...string) string {
		script := fmt.Sprintf(`source %q; COMP_WORDS=(%s); COMP_CWORD=%d; _halfclose; for w in "${COMPREPLY[@]}"; do echo "$w"; done`,
			bashComp, shellWords(words), len(words)-1)
		r := run(t, t.TempDir(), "", bash, "--norc", "-c", script)
		if r.code != 0 {
			t.Fatalf("bash completion of %q: exit %d: %s", words, r.code, r.stderr)
		}
		return string(r.stdout)
	}
	if got := complete(hc, "--time"); got != "--timeout\n" {
		t.Errorf("bash: --time completes to %q", got)
	}
	if got := complete(hc, "--addr", g, "sha2"); got != "sha224sum\nsha256sum\n" {
		t.Errorf("bash: sha2 completes to %q", got)
	}
	if got := complete(hc, "--generate", "complete-"); got != "complete-bash\ncomplete-zsh\ncomplete-fish\n" {
		t.Errorf("bash: --generate complete- completes to %q", got)
	}
	if got := complete(hc, "grep", "--ti"); got != "" {
		t.Errorf("bash: a remote command's flag completes to our %q", got)
	}
	fishComp := filepath.Join(usr, "share/fish/vendor_completions.d/halfclose.fish")
	fr := run(t, "", "", fish, "--no-config", "-c", fmt.Sprintf(`set -x PATH %s $PATH; source %s; complete -C "halfclose --addr %s sha2"`, filepath.Dir(hc), fishComp, g))
	if fr.code != 0 || string(fr.stdout) != "sha224sum\nsha256sum\n" {
		t.Errorf("fish: sha2 completes to %q (exit %d, %s)", fr.stdout, fr.code, fr.stderr)
	}
}

// shellWords quotes words for a bash array.
func shellWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
