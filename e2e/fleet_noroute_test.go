//go:build fleet && linux

package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestFleetNoRoute: an operator whose replicas serve no route port, as
// docs/deploy.md ("Route ports") tells them. With the shipped files as
// they are and no route variables, nginx -t and haproxy -c fail, naming
// the unset variable (nginx) or the route's bind (HAProxy), so that such
// a deploy stops at the check and the running proxy keeps its old
// configuration; with the route lines the docs name removed (nginx:
// upstream halfclose_route and the server after it; HAProxy: route_in,
// halfclose_route, unchecked_route), both checks pass with the command
// port's variables alone, and nothing of the route is left. Each proxy
// only checks its file here: nothing is started. Run by make test-fleet.
func TestFleetNoRoute(t *testing.T) {
	t.Parallel() // with the other waiting fleet tests (fleet_test.go)
	for _, tool := range []string{"nginx", "haproxy", "envsubst"} {
		need(t, tool)
	}
	needNginxStream(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// The command port's and gRPC's variables, no route's. Neither check
	// binds or connects: any loopback ports do.
	addrs := ownAddrs(t, 8)
	env := map[string]string{"HC_GRPC_LISTEN": addrs[0], "HC_TCP_LISTEN": addrs[1]}
	for i, n := range []string{"1", "2", "3"} {
		env["HC_R"+n+"_GRPC"] = addrs[2+2*i]
		env["HC_R"+n+"_TCP"] = addrs[3+2*i]
		env["HC_R"+n+"_HEALTH_PORT"] = "50053"
	}
	routeName := regexp.MustCompile(`HC_[A-Z0-9_]*ROUTE`)

	t.Run("nginx", func(t *testing.T) {
		tmpl := string(readFile(t, filepath.Join(root, "deploy/nginx/nginx.conf.template")))
		check := func(t *testing.T, tmpl string) result {
			dir := t.TempDir()
			// The header's command line: only the variables set are
			// substituted, an unset one is left as it is.
			out := envsubstHC(t, tmpl, env)
			conf := writeFile(t, dir, "nginx.conf", out)
			global := "pid " + filepath.Join(dir, "nginx.pid") + ";"
			r := run(t, "", "", "nginx", "-t", "-q", "-e", "stderr", "-c", conf, "-g", global)
			r.stdout = out // what nginx was given
			return r
		}
		r := check(t, tmpl)
		if r.code == 0 || !routeName.Match(r.stderr) {
			t.Errorf("nginx -t, the template as shipped and no route variables: exit %d, %q; want a failure naming an HC_..._ROUTE variable", r.code, r.stderr)
		}
		t.Logf("as shipped, no route variables: %s", strings.TrimSpace(string(r.stderr)))
		cut := cutBlock(t, tmpl, "    upstream halfclose_route {\n")
		cut = cutBlock(t, cut, "    server {\n        listen ${HC_ROUTE_LISTEN};\n")
		r = check(t, cut)
		if r.code != 0 {
			t.Fatalf("nginx -t, the route lines removed as docs/deploy.md says: exit %d, %s", r.code, r.stderr)
		}
		for _, l := range namesRoute(string(r.stdout), routeName) {
			t.Errorf("nginx.conf, the route lines removed: %q still names the route", l)
		}
	})

	t.Run("haproxy", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(root, "deploy/haproxy")
		writeFile(t, dir, "halfclose.lua", readFile(t, filepath.Join(src, "halfclose.lua")))
		cfg := string(readFile(t, filepath.Join(src, "haproxy.cfg")))
		check := func(cfg string) result {
			path := writeFile(t, dir, "haproxy.cfg", []byte(cfg))
			cmd := exec.Command("haproxy", "-c", "-f", path)
			cmd.Env = cleanEnv()
			for k, v := range env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			cmd.Env = append(cmd.Env, "HC_SOCKET_DIR="+dir)
			out, err := cmd.CombinedOutput()
			code := 0
			if err != nil {
				code = -1
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
			}
			return result{stderr: out, code: code}
		}
		if r := check(cfg); r.code == 0 || !strings.Contains(string(r.stderr), "'bind' expects") {
			t.Errorf("haproxy -c, haproxy.cfg as shipped and no route variables: exit %d, %q; want the bind of route_in refused", r.code, r.stderr)
		} else {
			t.Logf("as shipped, no route variables: %s", r.stderr)
		}
		for _, s := range []string{"frontend route_in", "backend halfclose_route", "backend unchecked_route"} {
			cfg = cutSection(t, cfg, s)
		}
		if r := check(cfg); r.code != 0 {
			t.Fatalf("haproxy -c, the route sections removed as docs/deploy.md says: exit %d, %s", r.code, r.stderr)
		}
		for _, l := range namesRoute(cfg, routeName) {
			t.Errorf("haproxy.cfg, the route sections removed: %q still names the route", l)
		}
	})
}

// cutBlock removes from cfg the nginx block that starts with the text
// start ("    upstream name {\n", or more lines), up to its closing brace,
// and fails the test when there is not exactly one such text.
func cutBlock(t *testing.T, cfg, start string) string {
	t.Helper()
	if n := strings.Count(cfg, start); n != 1 {
		t.Fatalf("nginx.conf.template: %d blocks starting %q, want 1", n, start)
	}
	i := strings.Index(cfg, start)
	depth := 0
	for j := i; j < len(cfg); j++ {
		switch cfg[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return cfg[:i] + strings.TrimPrefix(cfg[j+1:], "\n")
			}
		}
	}
	t.Fatalf("nginx.conf.template: %q has no closing brace", start)
	return ""
}

// cutSection removes the HAProxy section whose first line is header
// ("frontend route_in"), up to the next section's keyword at the start of
// a line, and fails the test when there is not exactly one.
func cutSection(t *testing.T, cfg, header string) string {
	t.Helper()
	lines := strings.SplitAfter(cfg, "\n")
	start, n := -1, 0
	for i, l := range lines {
		if strings.TrimRight(l, "\n") == header {
			start = i
			n++
		}
	}
	if n != 1 {
		t.Fatalf("haproxy.cfg: %d lines %q, want 1", n, header)
	}
	end := start + 1
	for ; end < len(lines); end++ {
		if f := strings.Fields(lines[end]); len(f) > 0 && !strings.ContainsRune(" \t#", rune(lines[end][0])) &&
			slices.Contains([]string{"global", "defaults", "frontend", "backend", "listen"}, f[0]) {
			break
		}
	}
	return strings.Join(lines[:start], "") + strings.Join(lines[end:], "")
}

// namesRoute returns the lines of cfg, comments aside, that name a route
// variable (re) or a route section or upstream (route_in, ..._route).
func namesRoute(cfg string, re *regexp.Regexp) []string {
	var out []string
	for _, line := range strings.Split(cfg, "\n") {
		l := strings.TrimSpace(line)
		if l, _, _ = strings.Cut(l, "#"); l != "" && (re.MatchString(l) || strings.Contains(l, "_route") || strings.Contains(l, "route_in")) {
			out = append(out, l)
		}
	}
	return out
}
