package testenv

import (
	"embed"
	"io/fs"
	"path"
	"testing"
)

// testdata holds the worked example (testdata/worked) and the seed's listings (testdata/seed,
// see its README.md). Tests outside reconcile/ cannot import this package (go's internal
// rule) and read the same files by relative path instead: cmd/reconcile's writeWorkedExample,
// schema's TestDecodeRules.
//
//go:embed testdata/worked testdata/seed
var testdata embed.FS

// WorkedExample returns a new copy of a small repository (path -> content) in the shape of
// the seed's worked example: WEB (YAML, tags WEB and APP_7890) and APP (JSON) profiles,
// endpoints web-1 and app-1 on node-1 and web-2 on node-2. The files are
// testdata/worked of this package.
func WorkedExample() map[string]string {
	const root = "testdata/worked"
	files := map[string]string{}
	err := fs.WalkDir(testdata, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := testdata.ReadFile(p)
		files[p[len(root)+1:]] = string(b)
		return err
	})
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return files
}

// SeedFile returns one of the seed's listings (testdata/seed of this package: rule-show-1.txt,
// rule-show-2.txt, tag-show.txt, APP-rules.json), byte for byte as the seed shows it. An
// unknown name fails t.
func SeedFile(t testing.TB, name string) string {
	t.Helper()
	b, err := testdata.ReadFile(path.Join("testdata/seed", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
