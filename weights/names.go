package weights

import (
	"fmt"
	"strings"
)

// Checkpoints of the same architecture name their tensors in more than one
// way. Lookup maps the canonical name transformers uses today (e.g.
// "bert.encoder.layer.0.attention.output.LayerNorm.weight") to the name a
// checkpoint actually stores, trying in order:
//   - the canonical name;
//   - without the encoder prefix ("bert." / "roberta."), as in checkpoints
//     saved from BertModel rather than BertForSequenceClassification;
//   - each of those with the legacy TF-era LayerNorm names ("LayerNorm.gamma"
//     for .weight, "LayerNorm.beta" for .bias).

// Lookup returns the stored name for a canonical or stored tensor name.
func (c *Checkpoint) Lookup(name string) (string, bool) {
	for _, cand := range nameCandidates(name) {
		if _, ok := c.tensors[cand]; ok {
			return cand, true
		}
	}
	return "", false
}

var encoderPrefixes = []string{"bert.", "roberta."}

func nameCandidates(name string) []string {
	bases := []string{name}
	for _, p := range encoderPrefixes {
		if rest, ok := strings.CutPrefix(name, p); ok {
			bases = append(bases, rest)
			break
		}
	}
	out := bases
	for _, b := range bases {
		if strings.Contains(b, "LayerNorm.") {
			if stem, ok := strings.CutSuffix(b, "LayerNorm.weight"); ok {
				out = append(out, stem+"LayerNorm.gamma")
			} else if stem, ok := strings.CutSuffix(b, "LayerNorm.bias"); ok {
				out = append(out, stem+"LayerNorm.beta")
			}
		}
	}
	return out
}

// Classification heads: what each architecture's classifier is made of.
var (
	bertHead = []string{"classifier.weight", "classifier.bias"}
	xlmrHead = []string{"classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"}
	// ModernBERT's head.dense and head.norm may have no bias (classifier_bias,
	// norm_bias); the classifier always has one.
	modernbertHead = []string{"head.dense.weight", "head.norm.weight", "classifier.weight", "classifier.bias"}
)

func headOf(a Arch) (want, other []string, otherArch Arch) {
	switch a {
	case XLMRoberta:
		return xlmrHead, bertHead, Bert
	case ModernBert:
		return modernbertHead, nil, ArchUnknown
	}
	return bertHead, xlmrHead, XLMRoberta
}

// CheckHead verifies that the checkpoint's classifier has the form arch's
// head reads: classifier.weight/bias for BERT, classifier.dense +
// classifier.out_proj for XLM-R. A checkpoint that stores the other form
// (or none) is an error naming both, instead of a forward pass that would
// silently miss its head.
func (c *Checkpoint) CheckHead(arch Arch) error {
	if arch != Bert && arch != XLMRoberta && arch != ModernBert {
		return fmt.Errorf("weights: no classification head known for architecture %v", arch)
	}
	want, other, otherArch := headOf(arch)
	var missing []string
	for _, n := range want {
		if _, ok := c.tensors[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var found []string
	for _, n := range other {
		if _, ok := c.tensors[n]; ok {
			found = append(found, n)
		}
	}
	if len(found) > 0 {
		return fmt.Errorf("weights: checkpoint stores the classifier as %s (the %v head), but %v reads %s",
			strings.Join(found, ", "), otherArch, arch, strings.Join(want, ", "))
	}
	return fmt.Errorf("weights: checkpoint has no classification head for %v: missing %s", arch, strings.Join(missing, ", "))
}
