package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestWatchHealWithASpaceSaysHow(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"watch", "--dir", t.TempDir(), "--heal", "warn"}, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "write --heal=warn") {
		t.Fatalf("exit %d, stderr %q; want 1 and a hint to write --heal=warn", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"watch", "--dir", t.TempDir(), "--heal=sometimes"}, nil, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "sometimes") {
		t.Fatalf("bad --heal: exit %d, stderr %q", code, errb.String())
	}
}
