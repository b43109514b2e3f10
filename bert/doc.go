// Package bert runs the forward pass of BertForSequenceClassification and
// XLMRobertaForSequenceClassification: token ids in, classification logits out.
package bert
