// Package shared is the process-wide "load once" registry behind
// embed.Shared (the seed's get_reranker / get_embedder singletons):
// concurrent first calls for a key load it once, later calls get the same
// value, a failed load is tried again next time, and Forget drops a value
// that was closed.
package shared

import (
	"context"
	"sync"
)

// Registry holds one value per key.
type Registry[T any] struct {
	mu sync.Mutex
	m  map[string]*entry[T]
}

type entry[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// Get returns the value for key, calling load (once, whoever asks first)
// when there is none. A caller waiting for another's load returns early
// with ctx's error when ctx ends.
func (r *Registry[T]) Get(ctx context.Context, key string, load func() (T, error)) (T, error) {
	r.mu.Lock()
	if r.m == nil {
		r.m = map[string]*entry[T]{}
	}
	e, ok := r.m[key]
	if !ok {
		e = &entry[T]{done: make(chan struct{})}
		r.m[key] = e
		r.mu.Unlock()
		e.v, e.err = load()
		r.mu.Lock()
		if e.err != nil {
			delete(r.m, key) // let a later call try again
		}
		close(e.done)
		r.mu.Unlock()
		return e.v, e.err
	}
	r.mu.Unlock()
	select {
	case <-e.done:
		return e.v, e.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Forget drops key's value if it is still v's entry (is reports whether a
// stored value is the one being closed), so the next Get loads it again.
func (r *Registry[T]) Forget(key string, is func(T) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[key]; ok {
		select {
		case <-e.done:
			if e.err == nil && is(e.v) {
				delete(r.m, key)
			}
		default:
		}
	}
}
