package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version describes the build from the binary's own build info: the
// module version (a tag when built with `go install ...@vX`, else
// "(devel)"), the VCS revision and time, and whether the tree had
// uncommitted changes.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "switchboard (no build info) " + runtime.Version()
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	out := "switchboard " + v
	if rev != "" && !strings.Contains(v, rev[:min(12, len(rev))]) { // a pseudo-version has it already
		out += fmt.Sprintf(" %.12s%s", rev, dirty)
		if at != "" {
			out += " " + at
		}
	}
	return out + " " + runtime.Version()
}
