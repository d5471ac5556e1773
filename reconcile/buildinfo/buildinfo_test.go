package buildinfo

import (
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

// The build id read from the ELF note is the one `go tool buildid` prints for the test binary.
func TestGoBuildIDIsGoToolBuildID(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Fatalf("go tool buildid: %v", err)
	}
	want := strings.TrimSpace(string(out))
	if got := GoBuildID(exe); got != want || want == "" {
		t.Errorf("GoBuildID = %q, want %q", got, want)
	}
	if got := ID(); got != "buildid:"+want {
		t.Errorf("ID() = %q, want buildid:%s", got, want)
	}
	if got := GoBuildID("/nonexistent"); got != "" {
		t.Errorf("GoBuildID of a missing file = %q", got)
	}
}

// A replace directive names the module actually built: its path and version are reported.
func TestVersionOfReplacedDependency(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "m", Version: "v1.2.3"},
		Deps: []*debug.Module{
			{Path: NftablesModule, Version: "v0.3.0", Replace: &debug.Module{Path: "example.com/fork/nftables", Version: "v0.3.9"}},
			{Path: GoGitModule, Version: "v5.19.3"},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}, {Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}}}
	v := versionOf(bi)
	if v.Nftables != "example.com/fork/nftables v0.3.9" || v.GoGit != "v5.19.3" || v.Revision != "abc" || !v.Modified || v.Platform != "linux/arm64" || v.ModuleVersion != "v1.2.3" {
		t.Errorf("versionOf = %+v", v)
	}
}
