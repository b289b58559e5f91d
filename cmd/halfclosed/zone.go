package main

import (
	"log/slog"
	"os"
	"time"

	"github.com/halfclose/halfclose/internal/tz"
)

// useGlibcZone makes time.Local the zone a GNU tool (glibc) takes with
// the server's environment, where Go's own reading of TZ differs (a
// POSIX rule such as CET-1CEST,M3.5.0,M10.5.0/3, which Go takes for
// UTC): gzip -lv lists a member's time in it, as GNU gzip does in its
// process's. It runs first in main, before anything reads time.Local;
// a zone name Go reads (Europe/Berlin) stays Go's own.
func useGlibcZone() tz.Zone {
	z := tz.Local(os.LookupEnv)
	if z.Loc != nil {
		time.Local = z.Loc
	}
	return z
}

// logZone says which zone the server took, and where it differs from
// glibc's (never an error: glibc takes any TZ).
func logZone(log *slog.Logger, z tz.Zone) {
	v, set := os.LookupEnv("TZ")
	name, off := time.Now().Zone()
	attrs := []any{"tz", v, "tz_set", set, "from", z.Source, "now", name, "offset_seconds", off}
	log.Info("local time zone", attrs...)
	if z.Note != "" {
		log.Warn("local time zone differs from glibc's: "+z.Note, "tz", v)
	}
}
