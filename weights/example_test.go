package weights_test

import (
	"context"
	"fmt"
	"log"

	"github.com/crossrank/crossrank/weights"
)

// Load a checkpoint folder (as transformers' save_pretrained writes it):
// the config says what to build, the checkpoint hands out tensors by their
// Hugging Face names, memory-mapped.
func ExampleOpen() {
	dir := "../testdata/models/bert"
	cfg, err := weights.LoadConfig(dir)
	if err != nil {
		log.Fatal(err)
	}
	ck, err := weights.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer ck.Close()
	if err := ck.CheckHead(cfg.Arch()); err != nil {
		log.Fatal(err)
	}
	w, shape, err := ck.Float32("bert.encoder.layer.0.attention.self.query.weight")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Arch(), cfg.NumHiddenLayers, "layers")
	fmt.Println("query weight", shape, len(w), "floats")
	// Output:
	// BertForSequenceClassification 2 layers
	// query weight [32 32] 1024 floats
}

// Resolve a Hub model: the Hugging Face cache first (shared with Python),
// downloading what is missing. HF_HUB_OFFLINE=1 keeps it off the network.
func ExampleResolve() {
	dir, err := weights.Resolve(context.Background(), "cross-encoder/ms-marco-MiniLM-L-6-v2", weights.ResolveOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(dir) // ~/.cache/huggingface/hub/models--cross-encoder--ms-marco-MiniLM-L-6-v2/snapshots/<commit>
}
