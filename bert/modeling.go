package bert

import "github.com/crossrank/crossrank/ml"

// The modules of BertForSequenceClassification and
// XLMRobertaForSequenceClassification, one Go type per Hugging Face module,
// each with the weights it binds (see package ml's binder) and a Forward that calls only
// the backend's Run operations. Links are to transformers v5.24.0, the
// version the golden files were made with:
//
//	modeling_bert.py:        https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/bert/modeling_bert.py
//	modeling_xlm_roberta.py: https://github.com/huggingface/transformers/blob/v5.24.0/src/transformers/models/xlm_roberta/modeling_xlm_roberta.py
//
// XLM-RoBERTa's encoder is BERT's module for module (same names, same
// maths); it differs in its position ids (Embeddings) and its head.
// Dropout is the identity at inference and does not appear.

// Embeddings is BertEmbeddings (modeling_bert.py#L54) and
// XLMRobertaEmbeddings (modeling_xlm_roberta.py#L57): word + token type +
// position embeddings, then LayerNorm.
type Embeddings struct {
	WordEmbeddings      ml.Embedding `hf:"word_embeddings" dims:"vocab,hidden"`
	PositionEmbeddings  ml.Embedding `hf:"position_embeddings" dims:"positions,hidden"`
	TokenTypeEmbeddings ml.Embedding `hf:"token_type_embeddings" dims:"types,hidden"`
	LayerNorm           ml.LayerNorm `hf:"LayerNorm" dims:"hidden"`

	// PaddingIdx is XLM-R's padding_idx (pad_token_id): its position ids
	// start at PaddingIdx+1. -1 for BERT, whose positions start at 0.
	PaddingIdx int
}

// Forward embeds the tokens of a packed batch, adding in the order
// transformers adds (word + token type, then position) so that rounding
// agrees.
func (e *Embeddings) Forward(r ml.Run, ids, typeIDs, positions []int32) ml.Tensor {
	x := r.Gather(e.WordEmbeddings.Weight, ids)
	r.AddGather(x, e.TokenTypeEmbeddings.Weight, typeIDs)
	r.AddGather(x, e.PositionEmbeddings.Weight, positions)
	return e.LayerNorm.Forward(r, x, nil)
}

// positionIDs appends the position ids of one sequence to dst. BERT
// numbers tokens 0..n-1. XLM-R follows create_position_ids_from_input_ids
// (modeling_xlm_roberta.py#L141): non-padding tokens count up from
// padding_idx+1, padding tokens get padding_idx itself.
func (e *Embeddings) positionIDs(dst, ids []int32) []int32 {
	if e.PaddingIdx < 0 {
		for i := range ids {
			dst = append(dst, int32(i))
		}
		return dst
	}
	pad := int32(e.PaddingIdx)
	count := int32(0)
	for _, id := range ids {
		if id == pad {
			dst = append(dst, pad)
			continue
		}
		count++
		dst = append(dst, pad+count)
	}
	return dst
}

// SelfAttention is BertSelfAttention (modeling_bert.py#L140) with
// eager_attention_forward (modeling_bert.py#L112): the query, key and
// value projections, then scaled dot-product attention of every token over
// the tokens of its own sequence. This is the one place attention happens;
// the backend's Run.Attention holds the maths.
type SelfAttention struct {
	Query ml.Linear `hf:"query" dims:"hidden,hidden"`
	Key   ml.Linear `hf:"key" dims:"hidden,hidden"`
	Value ml.Linear `hf:"value" dims:"hidden,hidden"`
	Heads int       // num_attention_heads
}

// Forward attends within each sequence of the packed batch (offsets), which
// is what the padding mask does in the padded batches of transformers.
func (a *SelfAttention) Forward(r ml.Run, x ml.Tensor, offsets []int32) ml.Tensor {
	q := a.Query.Forward(r, x)
	k := a.Key.Forward(r, x)
	v := a.Value.Forward(r, x)
	ctx := r.Attention(q, k, v, a.Heads, offsets)
	ml.Release(r, q, k, v)
	return ctx
}

// ForwardRows is Forward for the rows xr of x only (one per sequence, each
// in its own sequence): their queries against the keys and values of every
// token of x.
func (a *SelfAttention) ForwardRows(r ml.Run, ar ml.AttentionRowsRun, x, xr ml.Tensor, offsets []int32) ml.Tensor {
	q := a.Query.Forward(r, xr)
	k := a.Key.Forward(r, x)
	v := a.Value.Forward(r, x)
	ctx := ar.AttentionRows(q, k, v, a.Heads, a.Heads, offsets)
	ml.Release(r, q, k, v)
	return ctx
}

// SelfOutput is BertSelfOutput (modeling_bert.py#L283): dense, then
// LayerNorm with the residual.
type SelfOutput struct {
	Dense     ml.Linear    `hf:"dense" dims:"hidden,hidden"`
	LayerNorm ml.LayerNorm `hf:"LayerNorm" dims:"hidden"`
}

func (o *SelfOutput) Forward(r ml.Run, x, input ml.Tensor) ml.Tensor {
	d := o.Dense.Forward(r, x)
	y := o.LayerNorm.Forward(r, d, input)
	ml.Release(r, d)
	return y
}

// Attention is BertAttention (modeling_bert.py#L297).
type Attention struct {
	Self   SelfAttention `hf:"self"`
	Output SelfOutput    `hf:"output"`
}

func (a *Attention) Forward(r ml.Run, x ml.Tensor, offsets []int32) ml.Tensor {
	s := a.Self.Forward(r, x, offsets)
	y := a.Output.Forward(r, s, x)
	ml.Release(r, s)
	return y
}

// ForwardRows is Forward for the rows xr of x (see SelfAttention.ForwardRows),
// xr being the residual.
func (a *Attention) ForwardRows(r ml.Run, ar ml.AttentionRowsRun, x, xr ml.Tensor, offsets []int32) ml.Tensor {
	s := a.Self.ForwardRows(r, ar, x, xr, offsets)
	y := a.Output.Forward(r, s, xr)
	ml.Release(r, s)
	return y
}

// Intermediate is BertIntermediate (modeling_bert.py#L327): dense, then the
// config's hidden_act.
type Intermediate struct {
	Dense ml.Linear     `hf:"dense" dims:"intermediate,hidden"`
	Act   ml.Activation // hidden_act
}

func (m *Intermediate) Forward(r ml.Run, x ml.Tensor) ml.Tensor {
	return ml.LinearAct(r, x, m.Dense.Weight, m.Dense.Bias, m.Act)
}

// Output is BertOutput (modeling_bert.py#L342): dense back to hidden_size,
// then LayerNorm with the residual.
type Output struct {
	Dense     ml.Linear    `hf:"dense" dims:"hidden,intermediate"`
	LayerNorm ml.LayerNorm `hf:"LayerNorm" dims:"hidden"`
}

func (o *Output) Forward(r ml.Run, h, input ml.Tensor) ml.Tensor {
	d := o.Dense.Forward(r, h)
	y := o.LayerNorm.Forward(r, d, input)
	ml.Release(r, d)
	return y
}

// Layer is BertLayer (modeling_bert.py#L356): attention, then the
// feed-forward block (feed_forward_chunk).
type Layer struct {
	Attention    Attention    `hf:"attention"`
	Intermediate Intermediate `hf:"intermediate"`
	Output       Output       `hf:"output"`
}

func (l *Layer) Forward(r ml.Run, x ml.Tensor, offsets []int32) ml.Tensor {
	a := l.Attention.Forward(r, x, offsets)
	h := l.Intermediate.Forward(r, a)
	y := l.Output.Forward(r, h, a)
	ml.Release(r, h, a)
	return y
}

// ForwardRows is Forward's output at rows (one per sequence, rows[s] in
// sequence s) only: every token's keys and values, and for those rows alone
// the queries, attention, output projection and feed-forward block. Each
// kept row's value is the same function of the same inputs as in Forward.
func (l *Layer) ForwardRows(r ml.Run, ar ml.AttentionRowsRun, x ml.Tensor, offsets, rows []int32) ml.Tensor {
	xr := r.Rows(x, rows)
	a := l.Attention.ForwardRows(r, ar, x, xr, offsets)
	ml.Release(r, xr)
	h := l.Intermediate.Forward(r, a)
	y := l.Output.Forward(r, h, a)
	ml.Release(r, h, a)
	return y
}

// Encoder is BertEncoder (modeling_bert.py#L422).
type Encoder struct {
	Layer []Layer `hf:"layer"`
}

// Forward runs the layers in turn. observe, when not nil, sees each
// layer's output (tests compare them with transformers' hidden states).
// Each layer's input is released once the next layer has run, x included:
// the caller must not use x after Forward.
//
// rows, when not nil, are the only rows of the output the caller reads,
// one per sequence (rows[s] in sequence s: the heads' first token, or the
// rows Model.HiddenRows is asked for), and Forward returns those rows
// alone. Where the run has AttentionRowsRun the last layer then computes
// only them (Layer.ForwardRows: about a sixth of MiniLM-L6's work is that
// layer's other rows); elsewhere it runs whole and the rows are taken after. observe sees every row of every layer, so it
// runs the whole last layer too: the hidden-state tests check the full
// path, the goldens of the logits the pruned one.
func (e *Encoder) Forward(r ml.Run, x ml.Tensor, offsets, rows []int32, observe func(layer int, x ml.Tensor)) ml.Tensor {
	ar, prune := r.(ml.AttentionRowsRun)
	prune = prune && rows != nil && observe == nil
	for i := range e.Layer {
		var y ml.Tensor
		if prune && i == len(e.Layer)-1 {
			y = e.Layer[i].ForwardRows(r, ar, x, offsets, rows)
		} else {
			y = e.Layer[i].Forward(r, x, offsets)
		}
		ml.Release(r, x)
		x = y
		if r.Err() != nil {
			break // a cancelled context or a backend failure: stop here
		}
		if observe != nil {
			observe(i+1, x)
		}
	}
	if rows != nil && !(prune && len(e.Layer) > 0) {
		y := r.Rows(x, rows)
		ml.Release(r, x)
		x = y
	}
	return x
}

// Pooler is BertPooler (modeling_bert.py#L455): dense + tanh on the first
// token ([CLS]).
type Pooler struct {
	Dense ml.Linear `hf:"dense" dims:"hidden,hidden"`
}

// Forward takes the [CLS] rows, one per sequence.
func (p *Pooler) Forward(r ml.Run, cls ml.Tensor) ml.Tensor {
	h := p.Dense.Forward(r, cls)
	r.Activate(h, ml.ActTanh)
	return h
}

// head is the classification head on top of the encoder: the rows of the
// first token of each sequence in, logits out.
type head interface {
	Forward(r ml.Run, first ml.Tensor) ml.Tensor
}

// BertClassifier is the head of BertForSequenceClassification
// (modeling_bert.py#L1070): the pooler, then the classifier. The pooler
// lives inside BertModel, hence its name "bert.pooler".
type BertClassifier struct {
	Pooler     Pooler    `hf:"bert.pooler"`
	Classifier ml.Linear `hf:"classifier" dims:"labels,hidden"`
}

func (h *BertClassifier) Forward(r ml.Run, cls ml.Tensor) ml.Tensor {
	return h.Classifier.Forward(r, h.Pooler.Forward(r, cls))
}

// RobertaClassificationHead is XLMRobertaClassificationHead
// (modeling_xlm_roberta.py#L885): dense + tanh on <s>, then out_proj.
// XLMRobertaForSequenceClassification has no pooler.
type RobertaClassificationHead struct {
	Dense   ml.Linear `hf:"dense" dims:"hidden,hidden"`
	OutProj ml.Linear `hf:"out_proj" dims:"labels,hidden"`
}

func (h *RobertaClassificationHead) Forward(r ml.Run, s ml.Tensor) ml.Tensor {
	x := h.Dense.Forward(r, s)
	r.Activate(x, ml.ActTanh)
	return h.OutProj.Forward(r, x)
}
