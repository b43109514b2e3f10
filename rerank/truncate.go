package rerank

import "fmt"

// Truncation and windows, on lists of token ids.
//
// The rules are those of Hugging Face tokenizers (truncation.rs), which
// sentence-transformers uses: the pair budget is max_length minus the
// template's special tokens, and the two sides are cut as below. Doing it
// here, on ids, lets a call tokenize its query once for all its documents
// and lets long documents be split into windows without re-tokenizing.

// fitPair returns how many tokens of the query (nq) and of the document
// (nd) to keep so that they fit in budget tokens under strategy s.
func fitPair(nq, nd, budget int, s Truncation) (kq, kd int, err error) {
	if nq+nd <= budget {
		return nq, nd, nil
	}
	if budget < 0 {
		budget = 0
	}
	remove := nq + nd - budget
	switch s {
	case NoTruncation:
		return 0, 0, fmt.Errorf("%w: %d tokens with the query, the limit is %d", ErrTooLong, nq+nd, budget)
	case OnlyDocument:
		// Hugging Face refuses when the side to cut cannot lose enough
		// tokens and keep one (SequenceTooShort); a re-ranker should still
		// score the pair, so it falls back to longest_first instead.
		if nd > remove {
			return nq, nd - remove, nil
		}
	case OnlyQuery:
		if nq > remove {
			return nq - remove, nd, nil
		}
	}
	return longestFirst(nq, nd, budget)
}

// longestFirst is Hugging Face's longest_first for a pair: the shorter
// side keeps all its tokens if the longer can absorb the cut; otherwise both
// get half of the budget, the odd token going to the originally longer side
// (the second one on a tie).
func longestFirst(n1, n2, budget int) (k1, k2 int, err error) {
	swap := false
	if n1 > n2 {
		swap = true
		n1, n2 = n2, n1
	}
	if n1 > budget {
		n2 = n1
	} else {
		n2 = max(n1, budget-n1)
	}
	if n1+n2 > budget {
		n1 = budget / 2
		n2 = n1 + budget%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return n1, n2, nil
}

// windowRanges returns the [start, end) ranges of the document's tokens
// that overlapping windows of size tokens cover, consecutive windows sharing
// stride tokens, as Hugging Face's Encoding.truncate with a stride makes
// them for return_overflowing_tokens: windows start every size-stride
// tokens until one reaches the end. limit > 0 keeps only the first limit.
func windowRanges(n, size, stride, limit int) [][2]int {
	if n <= size {
		return [][2]int{{0, n}}
	}
	step := size - stride
	var out [][2]int
	for start := 0; start < n; start += step {
		end := min(start+size, n)
		out = append(out, [2]int{start, end})
		if end == n || (limit > 0 && len(out) == limit) {
			break
		}
	}
	return out
}
