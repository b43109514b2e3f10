package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/crossrank/crossrank/rerank"
	"github.com/crossrank/crossrank/server"
)

// Serve a cross-encoder to existing clients: here the infinity-form request
// the seed's rerank_remote sends. (The fixture model's scores carry no
// meaning; a real one is loaded the same way, e.g. "BAAI/bge-reranker-base".)
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	srv := server.New(server.Config{})
	r, err := rerank.New(ctx, "../testdata/models/bert", rerank.Options{OnBatch: srv.OnBatch("BAAI/bge-reranker-base")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	srv.AddModel("BAAI/bge-reranker-base", r)
	srv.SetReady()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, 5*time.Second) }()

	resp, err := http.Post("http://"+ln.Addr().String()+"/rerank", "application/json", strings.NewReader(
		`{"query": "what is a cross-encoder?", "documents": ["It scores a pair together.", "The sky is blue."], "model": "BAAI/bge-reranker-base"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	stop() // as SIGTERM does: drain, then return
	fmt.Println(<-done)
	// Output:
	// 200 OK
	// <nil>
}
