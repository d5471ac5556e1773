package badrepos

// Awaiting lists the cases that today's code does not yet refuse the way the corpus demands
// (exit 1, nothing on stderr, every message prefixed with its path, the same under --dir and
// --repo, one error per root cause), each with the rule of issue 7 that fixes it. The corpus
// tests log these instead of failing, and fail once a listed case passes, so that its entry
// is removed and the case holds from then on.
var Awaiting = map[string]string{}
