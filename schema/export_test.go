package schema

// SetCacheVersion replaces the decoder version of c's keys (tests of invalidation).
func SetCacheVersion(c *DecodeCache, v string) { c.version = v }

// DecodeCacheDir is c's directory.
func DecodeCacheDir(c *DecodeCache) string { return c.dir }
