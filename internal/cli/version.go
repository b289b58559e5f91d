package cli

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the --version line: the module version, the VCS revision and
// time it was built from (and whether the tree had local changes), and the
// Go toolchain, all from the binary's build info, e.g.
//
//	halfclose v0.0.0-20251201183800-e506e18a1b2c+dirty (rev e506e18a1b2c, 2025-12-01T18:38:00Z, modified) go1.26.8 linux/amd64
func Version(name string) string {
	return version(name, readBuildInfo())
}

var readBuildInfo = func() *debug.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return bi
}

func version(name string, bi *debug.BuildInfo) string {
	v, goVersion := "(devel)", runtime.Version()
	var vcs []string
	if bi != nil {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		var rev, when string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			vcs = append(vcs, "rev "+rev[:min(len(rev), 12)])
		}
		if when != "" {
			vcs = append(vcs, when)
		}
		if modified {
			vcs = append(vcs, "modified")
		}
	}
	out := name + " " + v
	if len(vcs) > 0 {
		out += " (" + strings.Join(vcs, ", ") + ")"
	}
	return out + " " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}
