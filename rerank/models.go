package rerank

// The architectures the re-ranker can load: each package registers itself
// with ml.Register by config.json's architectures / model_type, and
// loadEngine loads whichever a checkpoint names (ml.Load). A new
// architecture is one more import here.
import (
	_ "github.com/crossrank/crossrank/bert"       // BertForSequenceClassification, XLMRobertaForSequenceClassification
	_ "github.com/crossrank/crossrank/modernbert" // ModernBertForSequenceClassification
	_ "github.com/crossrank/crossrank/qwen3"      // Qwen3ForCausalLM, Qwen3ForSequenceClassification, Qwen2ForCausalLM (prompt.go frames their pairs)
)
