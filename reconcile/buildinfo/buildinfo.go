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
