// Package limits holds, in one place, the bounds that the kernel's nf_tables and the nft tool
// put on the names and strings reconcile sends them, and the policy bounds derived from them.
// Schema validation, the compiler, the kernel encoder, the fake dataplane and the nft text
// renderer all use these constants, so that what validates is what the kernel and `nft -f`
// accept with the same meaning. It imports nothing.
package limits
