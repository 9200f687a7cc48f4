package sessioncore

import (
	"context"
	"errors"
)

// Handler is the behaviour of a session, run one message at a time: the registry never calls
// two of a session's methods concurrently. A Handler for a session is made by its
// HandlerFactory when the session starts (that is its init step).
type Handler interface {
	// HandleCall answers a Call. ctx is the caller's context: when the session is idle the
	// handler runs on the caller's goroutine, so a long handler should honour ctx.
	HandleCall(ctx context.Context, msg any) (reply any, err error)
	// HandleCast handles a Cast. It runs on a registry worker.
	HandleCast(msg any)
	// Terminate is called once when the session ends; reason is ErrTerminated, ErrExpired,
	// ErrCrashed, ErrShutdown or ErrStartAborted.
	Terminate(reason error)
}

// HandlerFactory makes the Handler of a new session with id id; arg is Spec.Arg. An error
// aborts the start (the error is returned to Start, wrapped).
type HandlerFactory func(id string, arg any) (Handler, error)

// DefaultHandler is the name of the built-in handler, used when Spec.Handler is empty.
const DefaultHandler = "default"

// Messages of the default handler. Call replies: Ping → "pong"; GetState → the session's
// State; Put → nil; Get → the value (nil when missing); Delete → nil; anything else is echoed
// back. Casts of Put and Delete change the store; other casts are ignored.
type (
	// Ping asks for "pong".
	Ping struct{}
	// GetState asks for the session's state machine State.
	GetState struct{}
	// Put stores Value under Key in the session.
	Put struct {
		Key   string
		Value any
	}
	// Get asks for the value stored under Key.
	Get struct{ Key string }
	// Delete removes Key from the session.
	Delete struct{ Key string }
)

// Reasons a session ends, passed to Handler.Terminate and the OnStop hook, and returned
// (wrapped) to callers whose messages were still queued.
var (
	// ErrTerminated: the session was terminated by Terminate or TerminateMany.
	ErrTerminated = errors.New("terminated")
	// ErrExpired: the session's idle TTL or lifetime ran out.
	ErrExpired = errors.New("expired")
	// ErrCrashed: the session's handler panicked.
	ErrCrashed = errors.New("crashed")
	// ErrShutdown: the registry was closed.
	ErrShutdown = errors.New("registry closed")
	// ErrStartAborted: the start failed after registration (the Persister refused to save).
	ErrStartAborted = errors.New("start aborted")
)

// defaultCall implements the default handler's calls. It runs as the session's owner.
func (s *Session) defaultCall(msg any) (any, error) {
	switch m := msg.(type) {
	case Ping:
		return "pong", nil
	case GetState:
		return s.State(), nil
	case Put:
		s.kvPut(m.Key, m.Value)
		return nil, nil
	case Get:
		if kv := s.kv(); kv != nil {
			return kv[m.Key], nil
		}
		return nil, nil
	case Delete:
		if kv := s.kv(); kv != nil {
			delete(kv, m.Key)
		}
		return nil, nil
	default:
		return msg, nil
	}
}

// defaultCast implements the default handler's casts.
func (s *Session) defaultCast(msg any) {
	switch m := msg.(type) {
	case Put:
		s.kvPut(m.Key, m.Value)
	case Delete:
		if kv := s.kv(); kv != nil {
			delete(kv, m.Key)
		}
	}
}

func (s *Session) kv() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ext == nil {
		return nil
	}
	return s.ext.kv
}

func (s *Session) kvPut(k string, v any) {
	s.mu.Lock()
	e := s.extLocked()
	if e.kv == nil {
		e.kv = make(map[string]any)
	}
	kv := e.kv
	s.mu.Unlock()
	kv[k] = v // the map is only used by the session's owner
}
