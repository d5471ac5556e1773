// Package buildinfo names the running build, for what must not outlive a change of the code:
// the compile key of the fast no-change pass (reconcile) and the version of the decode cache
// (schema).
package buildinfo

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"runtime/debug"
	"sync"
)

// ID identifies the running build: "buildid:<id>", the Go build id of the executable (a hash
// of every input of the build, so any change of the code changes it), else "vcs:<revision>"
// for a build from a clean VCS checkout, else "" (unknown: nothing keyed by it may be
// trusted). Computed once.
var ID = sync.OnceValue(func() string {
	if id := GoBuildID("/proc/self/exe"); id != "" {
		return "buildid:" + id
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, modified := "", "true"
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" && modified == "false" {
			return "vcs:" + rev
		}
	}
	return ""
})

// GoBuildID reads the Go build id from the ELF note .note.go.buildid of the executable at
// path ("" when there is none or it cannot be read).
func GoBuildID(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil {
		return ""
	}
	b, err := sec.Data()
	if err != nil || len(b) < 16 {
		return ""
	}
	// An ELF note: namesz, descsz, type (4 bytes each), the name "Go\x00\x00", the id.
	namesz, descsz := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	if namesz != 4 || !bytes.Equal(b[12:16], []byte("Go\x00\x00")) || uint64(16)+uint64(descsz) > uint64(len(b)) {
		return ""
	}
	return string(b[16 : 16+descsz])
}

// Version describes the running build as `go version -m` shows it (runtime/debug build info):
// the module version, the VCS settings the go command stamped, the Go version, and the
// versions of the dependencies that decide what reconcile does with the kernel and with git.
type Version struct {
	// Module is the main module path; ModuleVersion its version: a tag or pseudo-version for
	// `go install …@version`, "(devel)" for a build from a checkout.
	Module        string `json:"module"`
	ModuleVersion string `json:"module_version"`
	// Revision and Time are vcs.revision and vcs.time ("" when the build carries no VCS
	// stamp: `go run`, -buildvcs=false, or no git at build time); Modified is vcs.modified
	// (the work tree had uncommitted changes).
	Revision string `json:"vcs_revision,omitempty"`
	Time     string `json:"vcs_time,omitempty"`
	Modified bool   `json:"vcs_modified,omitempty"`
	// GoVersion is the toolchain that built the binary ("go1.26.8"); Platform GOOS/GOARCH.
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	// Nftables and GoGit are the versions of github.com/google/nftables and
	// github.com/go-git/go-git/v5 linked in (after replace directives), "" when absent.
	Nftables string `json:"nftables"`
	GoGit    string `json:"go_git"`
}

// Modules whose versions Version reports.
const (
	NftablesModule = "github.com/google/nftables"
	GoGitModule    = "github.com/go-git/go-git/v5"
)

// ReadVersion returns the Version of the running binary; ok is false when the binary carries
// no build info (built without module support).
func ReadVersion() (v Version, ok bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Version{}, false
	}
	return versionOf(bi), true
}

// versionOf extracts a Version from build info.
func versionOf(bi *debug.BuildInfo) Version {
	v := Version{Module: bi.Main.Path, ModuleVersion: bi.Main.Version, GoVersion: bi.GoVersion}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" {
		v.Platform = goos + "/" + goarch
	}
	for _, d := range bi.Deps {
		ver := d.Version
		if d.Replace != nil { // a replace directive: the version built is the replacement's
			ver = d.Replace.Path + " " + d.Replace.Version
			if d.Replace.Version == "" {
				ver = d.Replace.Path
			}
		}
		switch d.Path {
		case NftablesModule:
			v.Nftables = ver
		case GoGitModule:
			v.GoGit = ver
		}
	}
	return v
}
