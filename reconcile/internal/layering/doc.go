// Package layering has no code: its test (layering_test.go, TestLayering) reads the import
// graph of the module's packages with `go list -json ./...` and checks it against the table of
// layers that docs/ARCHITECTURE.md ("Import graph") draws. A failure names the import, e.g.
// "schema imports reconcile/plan: reconcile/plan is above schema".
package layering
