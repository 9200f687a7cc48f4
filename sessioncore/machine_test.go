package sessioncore

import (
	"errors"
	"testing"
)

// TestDefaultMachineEveryPair checks every from→to pair of the default machine against the
// rules written out by hand.
func TestDefaultMachineEveryPair(t *testing.T) {
	m := DefaultMachine()
	allowed := map[[2]State]bool{
		{Connecting, Authenticating}:         true,
		{Authenticating, CharacterSelection}: true,
		{CharacterSelection, Playing}:        true,
		{Playing, CharacterSelection}:        true,
		{Playing, Disconnected}:              true,
		{Disconnected, Playing}:              true,
		{Connecting, Closed}:                 true,
		{Authenticating, Closed}:             true,
		{CharacterSelection, Closed}:         true,
		{Playing, Closed}:                    true,
		{Disconnected, Closed}:               true,
	}
	if m.Len() != 6 {
		t.Fatalf("for Len, got %d, want 6", m.Len())
	}
	for from := range State(m.Len()) {
		for to := range State(m.Len()) {
			want := allowed[[2]State{from, to}]
			err := m.Check(from, to)
			if (err == nil) != want || m.Allowed(from, to) != want {
				t.Errorf("for %s→%s, got %v, want allowed=%v", m.Name(from), m.Name(to), err, want)
				continue
			}
			if err != nil {
				var te *TransitionError
				if !errors.As(err, &te) || te.From != from || te.To != to || te.FromName != m.Name(from) || te.ToName != m.Name(to) {
					t.Errorf("for %s→%s, got %#v, want it to name both states", m.Name(from), m.Name(to), err)
				}
				if !errors.Is(err, ErrTransition) {
					t.Errorf("for %s→%s, got %v, want errors.Is ErrTransition", m.Name(from), m.Name(to), err)
				}
			}
		}
	}
}

func TestTransitionDoesNotAllocate(t *testing.T) {
	r := newTestRegistry(t, Config{})
	s, _ := r.Start(t.Context(), Spec{Key: "a"})
	ctx := t.Context()
	allocs := testing.AllocsPerRun(100, func() {
		_ = s.Transition(ctx, Closed)  // Connecting→Closed is allowed once …
		_ = s.Transition(ctx, Playing) // … then Closed→Playing is rejected
	})
	if allocs != 0 {
		t.Errorf("for allowed and rejected transitions, got %v allocs, want 0", allocs)
	}
	if s.State() != Closed {
		t.Errorf("for State, got %v, want Closed", s.State())
	}
}

func TestCustomMachine(t *testing.T) {
	m, err := NewMachine([]string{"red", "green", "yellow"}, []Edge{{0, 1}, {1, 2}, {2, 0}})
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRegistry(t, Config{Machine: m})
	s, _ := r.Start(t.Context(), Spec{Key: "light"})
	for i, to := range []State{1, 2, 0, 1} {
		if err := s.Transition(t.Context(), to); err != nil {
			t.Fatalf("for step %d to %s, got %v", i, m.Name(to), err)
		}
	}
	if err := s.Transition(t.Context(), 0); err == nil || err.Error() != "transition from green to red not allowed" {
		t.Errorf("for green→red, got %v", err)
	}
	if st, ok := m.Lookup("yellow"); !ok || st != 2 {
		t.Errorf("for Lookup(yellow), got %v %v", st, ok)
	}
	for _, bad := range []struct {
		names []string
		edges []Edge
	}{
		{nil, nil},
		{[]string{"a", "a"}, nil},
		{[]string{"a", ""}, nil},
		{[]string{"a"}, []Edge{{0, 1}}},
		{make([]string, MaxStates+1), nil},
	} {
		if _, err := NewMachine(bad.names, bad.edges); err == nil {
			t.Errorf("for NewMachine(%q, %v), got nil error", bad.names, bad.edges)
		}
	}
}
