package buildinfo

import (
	"os"
	"os/exec"
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
