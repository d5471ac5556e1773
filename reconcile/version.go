package reconcile

import "github.com/reconcile-dev/reconcile/reconcile/buildinfo"

// Version describes the running build as `go version -m` shows it: buildinfo.Version (module
// version, VCS revision, time and modified flag, Go version, google/nftables and go-git
// versions). The command line reaches it through this package (layering).
type Version = buildinfo.Version

// Module paths whose versions Version reports.
const (
	NftablesModule = buildinfo.NftablesModule
	GoGitModule    = buildinfo.GoGitModule
)

// ReadVersion returns the Version of the running binary, from its build information
// (runtime/debug.ReadBuildInfo); ok is false when the binary carries none.
func ReadVersion() (v Version, ok bool) { return buildinfo.ReadVersion() }
