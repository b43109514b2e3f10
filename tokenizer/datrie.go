package tokenizer

// daTrie is byteTrie as a double array: the child of node s by byte b is
// t = base[s]+b+1, valid when check[t] == s. One addition and one compare
// per byte, against a scan of the edge list in byteTrie; Unigram's Viterbi
// walks the trie from every character, so this is its inner loop. byteTrie
// stays as the reference the test compares against.
type daTrie struct {
	base  []int32
	check []int32 // parent of each slot; -1 free
	id    []int32 // token id ending at each node; -1 none
}

// maxBaseTries bounds the search of the free list for a node's base.
const maxBaseTries = 32

func newDATrie(bt *byteTrie) *daTrie {
	n := len(bt.nodes)
	d := &daTrie{}
	// Free slots form a doubly linked list (next/prev), so the search for a
	// base visits only free slots: building stays near linear in the nodes.
	// Room for about twice the nodes: bases leave holes.
	c := 2*n + 512
	d.base, d.check, d.id = make([]int32, 0, c), make([]int32, 0, c), make([]int32, 0, c)
	next, prev := make([]int32, 0, c), make([]int32, 0, c)
	head, tail := int32(-1), int32(-1)
	grow := func(to int) {
		for len(d.check) <= to {
			i := int32(len(d.check))
			d.base = append(d.base, 0)
			d.check = append(d.check, -1)
			d.id = append(d.id, -1)
			next = append(next, -1)
			prev = append(prev, tail)
			if tail >= 0 {
				next[tail] = i
			} else {
				head = i
			}
			tail = i
		}
	}
	use := func(t int32) {
		p, nx := prev[t], next[t]
		if p >= 0 {
			next[p] = nx
		} else {
			head = nx
		}
		if nx >= 0 {
			prev[nx] = p
		} else {
			tail = p
		}
		prev[t], next[t] = -1, -1
	}
	grow(n + 257)
	use(0) // the root
	d.check[0] = 0
	maxUsed := int32(0)
	slot := make([]int32, n) // where byteTrie node i lives
	queue := []int32{0}
	for len(queue) > 0 {
		node := queue[0]
		queue = queue[1:]
		s := slot[node]
		tn := bt.nodes[node]
		d.id[s] = tn.id
		edges := bt.edges[tn.first : tn.first+tn.n]
		if len(edges) == 0 {
			continue
		}
		c0 := int32(edges[0].b) + 1
		var b int32
		tries := 0
		for p := head; ; tries++ {
			if p < 0 || tries == maxBaseTries {
				// Past every used slot all slots are free: a base there
				// always fits. Giving up on the holes after a few tries
				// keeps building linear for 250,000-piece vocabularies,
				// at the cost of some unused slots.
				p = maxUsed + 1
				grow(int(p) + 257)
			}
			b = p - c0
			if b >= 1 {
				ok := true
				for _, e := range edges {
					t := int(b) + int(e.b) + 1
					if t >= len(d.check) {
						grow(t + 257)
					}
					if d.check[t] >= 0 {
						ok = false
						break
					}
				}
				if ok {
					break
				}
			}
			p = next[p]
		}
		d.base[s] = b
		for _, e := range edges {
			t := b + int32(e.b) + 1
			use(t)
			maxUsed = max(maxUsed, t)
			d.check[t] = s
			slot[e.child] = t
			queue = append(queue, e.child)
		}
	}
	return d
}

// child is the node reached from s by byte c, or -1.
func (d *daTrie) child(s int32, c byte) int32 {
	t := d.base[s] + int32(c) + 1
	if int(t) < len(d.check) && d.check[t] == s {
		return t
	}
	return -1
}

// longestPrefix returns the id and length of the longest key that is a
// prefix of s, or (-1, 0).
func (d *daTrie) longestPrefix(s []byte) (int32, int) {
	id, n := int32(-1), 0
	node := int32(0)
	for i := 0; i < len(s); i++ {
		node = d.child(node, s[i])
		if node < 0 {
			break
		}
		if nid := d.id[node]; nid >= 0 {
			id, n = nid, i+1
		}
	}
	return id, n
}
