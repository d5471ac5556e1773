package badrepos

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRefusal(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "profiles", "WEB.yaml"), []byte("id: WEB\ntags: [WEB]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    Result
		want []string // substrings, one per problem; none for a proper refusal
	}{
		{"proper", Result{Code: 1, Stdout: "profiles/WEB.yaml:2:7: tags: x\nprofiles/APP.json: refused\n"}, nil},
		{"exit 0", Result{Code: 0, Stdout: "Valid: 1 profile\n"}, []string{"exit 0", "without a path"}},
		{"stderr", Result{Code: 1, Stdout: "profiles/WEB.yaml:1:1: x\n", Stderr: "reconcile: boom\n"}, []string{"stderr"}},
		{"silent", Result{Code: 1}, []string{"no message"}},
		{"timeout", Result{Code: -1, TimedOut: true}, []string{"timed out"}},
		{"other folder", Result{Code: 1, Stdout: "README.md:1:1: x\n"}, []string{"without a path"}},
		{"past the end", Result{Code: 1, Stdout: "profiles/WEB.yaml:4:1: x\n"}, []string{"past the end"}},
		{"zero column", Result{Code: 1, Stdout: "profiles/WEB.yaml:1:0: x\n"}, []string{"not 1-based"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckRefusal(tc.r, root)
			if len(got) != len(tc.want) {
				t.Fatalf("problems %q, want %d matching %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
	echo := Result{Code: 1, Stdout: "endpoints/e.yaml:2:3: profile_ids: profile \"WEB\" does not exist\nendpoints/e.yaml:2:9: profile_ids: profile \"DB\" does not exist\n"}
	if got := CheckEchoes(echo, root); len(got) != 1 || !strings.Contains(got[0], "profiles/WEB.yaml exists") {
		t.Errorf("CheckEchoes = %q, want one echo of profiles/WEB.yaml", got)
	}
}

func TestFormat(t *testing.T) {
	r := Result{Code: 1,
		Stdout: "Valid: 1 profile (main@sha1:0123456789abcdef0123456789abcdef01234567)\n",
		Stderr: "fetch file:///tmp/x/repo: read commit f5718bf: /tmp/x/repo/profiles/WEB.yaml (sha256:" + strings.Repeat("ab", 32) + ")\n"}
	got := Format(r, map[string]string{"/tmp/x/repo": "$REPO", "file:///tmp/x/repo": "$URL"})
	want := "exit 1\n-- stdout --\nValid: 1 profile ($REVISION)\n-- stderr --\nfetch $URL: read commit $COMMIT: $REPO/profiles/WEB.yaml ($REVISION)\n"
	if got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
	if got := Format(Result{Code: -1, TimedOut: true}, nil); !strings.HasPrefix(got, "exit timeout\n") {
		t.Errorf("Format of a timeout = %q", got)
	}
}

// Every case directory is named NN-name, every generated case has one, and the corpus is at
// least the 60 cases issue 7 asks for.
func TestCases(t *testing.T) {
	cases, err := Cases()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 60 {
		t.Fatalf("%d cases, want at least 60", len(cases))
	}
	for _, c := range cases {
		if _, err := os.Stat(filepath.Join(c.Dir, GoldenDir)); err != nil {
			t.Errorf("%s: %v", c.Name, err)
		}
		if c.Timeout <= 0 {
			t.Errorf("%s: timeout %v", c.Name, c.Timeout)
		}
	}
}
