package tokenizer

// template frames content ids with special tokens and assigns token type
// ids. TemplateProcessing, BertProcessing and RobertaProcessing all reduce to
// one: a list of pieces, each a special token (its ids) or a sequence ($A or
// $B), each with a type id.
type template struct {
	single, pair []tplPiece
}

type tplPiece struct {
	seq    int     // 0: special token, 1: $A, 2: $B
	ids    []int32 // special token ids
	typeID int32
}

// defaultTemplate is what tokenizers does without a post-processor: the
// sequences concatenated, the second with type id 1.
func defaultTemplate() *template {
	return &template{
		single: []tplPiece{{seq: 1}},
		pair:   []tplPiece{{seq: 1}, {seq: 2, typeID: 1}},
	}
}

// bertTemplate is BertProcessing: [CLS] A [SEP] and [CLS] A [SEP] B [SEP],
// B and its [SEP] with type id 1.
func bertTemplate(cls, sep int32) *template {
	return &template{
		single: []tplPiece{{ids: []int32{cls}}, {seq: 1}, {ids: []int32{sep}}},
		pair: []tplPiece{{ids: []int32{cls}}, {seq: 1}, {ids: []int32{sep}},
			{seq: 2, typeID: 1}, {ids: []int32{sep}, typeID: 1}},
	}
}

// robertaTemplate is RobertaProcessing: <s> A </s> and <s> A </s></s> B </s>,
// every type id 0 (RoBERTa has a single token type).
func robertaTemplate(cls, sep int32) *template {
	return &template{
		single: []tplPiece{{ids: []int32{cls}}, {seq: 1}, {ids: []int32{sep}}},
		pair: []tplPiece{{ids: []int32{cls}}, {seq: 1}, {ids: []int32{sep}},
			{ids: []int32{sep}}, {seq: 2}, {ids: []int32{sep}}},
	}
}

func (t *template) numSpecial(pair bool) int {
	ps := t.single
	if pair {
		ps = t.pair
	}
	n := 0
	for _, p := range ps {
		n += len(p.ids)
	}
	return n
}

// apply appends the framed ids and type ids of a (and b for a pair).
func (t *template) apply(ids, types, a, b []int32, pair bool) ([]int32, []int32) {
	ps := t.single
	if pair {
		ps = t.pair
	}
	for _, p := range ps {
		var src []int32
		switch p.seq {
		case 0:
			src = p.ids
		case 1:
			src = a
		case 2:
			src = b
		}
		ids = append(ids, src...)
		for range src {
			types = append(types, p.typeID)
		}
	}
	return ids, types
}
