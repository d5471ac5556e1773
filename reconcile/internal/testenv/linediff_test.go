package testenv

import (
	"reflect"
	"testing"
)

func TestLineDiff(t *testing.T) {
	before := FileLines("a\nb\r\nc\nd\n")
	after := FileLines("a\nb\nX\nd\nE")
	want := []DiffOp{{'-', 1, 1}, {'-', 2, 1}, {'+', 3, 1}, {'+', 3, 2}, {'+', 4, 4}}
	if got := LineDiff(before, after); !reflect.DeepEqual(got, want) {
		t.Fatalf("LineDiff = %v, want %v", got, want)
	}
	if got := LineDiff(before, before); got != nil {
		t.Fatalf("LineDiff of equal files = %v", got)
	}
	if got := FileLines("x\r\ny"); !reflect.DeepEqual(got, []string{"x\r\n", "y"}) {
		t.Fatalf("FileLines = %q", got)
	}
}
