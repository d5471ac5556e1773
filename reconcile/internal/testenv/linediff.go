package testenv

import "strings"

// FileLines splits a file after each "\n", so that every line keeps its own "\r\n" or "\n"
// (a line that lost its "\r" then differs from the one it was).
func FileLines(s string) []string {
	ls := strings.SplitAfter(s, "\n")
	if ls[len(ls)-1] == "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

// DiffOp is one step of a line diff: Op '-' deletes before[Before], Op '+' inserts after[After]
// at position Before of before (0-based indexes).
type DiffOp struct {
	Op            byte
	Before, After int
}

// LineDiff is a longest-common-subsequence diff of two files' lines, compared byte for byte:
// the deletions and insertions that turn before into after, in order. Where both would do, a
// deletion comes first.
func LineDiff(before, after []string) []DiffOp {
	n, m := len(before), len(after)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if before[i] == after[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []DiffOp
	for i, j := 0, 0; i < n || j < m; {
		switch {
		case i < n && j < m && before[i] == after[j]:
			i, j = i+1, j+1
		case i < n && (j >= m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, DiffOp{Op: '-', Before: i, After: j})
			i++
		default:
			ops = append(ops, DiffOp{Op: '+', Before: i, After: j})
			j++
		}
	}
	return ops
}
