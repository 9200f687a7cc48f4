package sessioncore

import (
	"context"
	"sync"
	"testing"
	"time"
)

func newTestRegistry(t testing.TB, cfg Config) *Registry {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// funcHandler is a Handler built from funcs; it records casts and the terminate reason.
type funcHandler struct {
	call func(ctx context.Context, msg any) (any, error)
	cast func(msg any)

	mu     sync.Mutex
	casts  []any
	reason error
	ended  chan struct{}
}

func newFuncHandler() *funcHandler { return &funcHandler{ended: make(chan struct{})} }

func (h *funcHandler) HandleCall(ctx context.Context, msg any) (any, error) {
	if h.call != nil {
		return h.call(ctx, msg)
	}
	return msg, nil
}

func (h *funcHandler) HandleCast(msg any) {
	if h.cast != nil {
		h.cast(msg)
	}
	h.mu.Lock()
	h.casts = append(h.casts, msg)
	h.mu.Unlock()
}

func (h *funcHandler) Terminate(reason error) {
	h.mu.Lock()
	h.reason = reason
	h.mu.Unlock()
	close(h.ended)
}

func (h *funcHandler) castsSeen() []any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]any(nil), h.casts...)
}

// waitEnded waits for Terminate and returns its reason.
func (h *funcHandler) waitEnded(t *testing.T) error {
	t.Helper()
	select {
	case <-h.ended:
	case <-time.After(5 * time.Second):
		t.Fatal("handler's Terminate was not called")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason
}

// factoryOf returns a factory that hands out the given handlers by key.
func factoryOf(hs map[string]*funcHandler) HandlerFactory {
	var mu sync.Mutex
	return func(id string, _ any) (Handler, error) {
		mu.Lock()
		defer mu.Unlock()
		if h, ok := hs[id]; ok {
			return h, nil
		}
		return newFuncHandler(), nil
	}
}

// memPersister is an in-memory Persister that records what the registry asked of it.
type memPersister struct {
	mu      sync.Mutex
	saved   map[string]Record
	touches map[string]int
	deleted []string
	saveErr error
}

func newMemPersister() *memPersister {
	return &memPersister{saved: map[string]Record{}, touches: map[string]int{}}
}

func (p *memPersister) Save(_ context.Context, r Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.saveErr != nil {
		return p.saveErr
	}
	p.saved[r.ID] = r
	return nil
}

func (p *memPersister) Touch(id string, _ time.Time) {
	p.mu.Lock()
	p.touches[id]++
	p.mu.Unlock()
}

func (p *memPersister) Delete(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.saved, id)
	p.deleted = append(p.deleted, id)
	return nil
}
