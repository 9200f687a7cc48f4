package sessioncore

import (
	"errors"
	"fmt"
)

// State is a state of a session's state machine: an index into its Machine's state names.
type State uint8

// The states of the default machine (DefaultMachine).
const (
	Connecting State = iota
	Authenticating
	CharacterSelection
	Playing
	Disconnected
	Closed
)

// MaxStates is the largest number of states a Machine can have.
const MaxStates = 64

// Machine is a validated state machine: a set of named states and the allowed edges, kept as a
// bitmask per state so a check is one load and one AND. A Machine is immutable and safe for
// concurrent use.
type Machine struct {
	names   []string
	allowed [MaxStates]uint64
	errs    []error // errs[from*n+to]: preallocated rejection for each pair
}

// Edge is an allowed transition of a Machine.
type Edge struct {
	From, To State
}

// TransitionError is the error for a rejected transition. It names both states. The Machine
// preallocates one per (from, to) pair, so a rejection does not allocate.
type TransitionError struct {
	// From and To are the rejected transition's states.
	From, To State
	// FromName and ToName are their names in the machine.
	FromName, ToName string
}

// Error returns "transition from X to Y not allowed".
func (e *TransitionError) Error() string {
	return "transition from " + e.FromName + " to " + e.ToName + " not allowed"
}

// Is reports whether target is ErrTransition, so errors.Is(err, ErrTransition) matches every
// rejected transition.
func (e *TransitionError) Is(target error) bool { return target == ErrTransition }

// ErrTransition matches (with errors.Is) every *TransitionError.
var ErrTransition = errors.New("transition not allowed")

// NewMachine returns a machine with the given state names (state i is names[i]) and edges.
// It returns an error for no states, more than MaxStates, an empty or duplicate name, or an
// edge naming a state that does not exist.
func NewMachine(names []string, edges []Edge) (*Machine, error) {
	if len(names) == 0 || len(names) > MaxStates {
		return nil, fmt.Errorf("building machine: %d states, want 1 to %d", len(names), MaxStates)
	}
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if n == "" || seen[n] {
			return nil, fmt.Errorf("building machine: state name %q empty or duplicated", n)
		}
		seen[n] = true
	}
	m := &Machine{names: append([]string(nil), names...)}
	n := len(names)
	for _, e := range edges {
		if int(e.From) >= n || int(e.To) >= n {
			return nil, fmt.Errorf("building machine: edge %d→%d names a missing state", e.From, e.To)
		}
		m.allowed[e.From] |= 1 << e.To
	}
	m.errs = make([]error, n*n)
	for f := range n {
		for t := range n {
			m.errs[f*n+t] = &TransitionError{From: State(f), To: State(t), FromName: names[f], ToName: names[t]}
		}
	}
	return m, nil
}

// DefaultMachine returns the game-session machine: Connecting → Authenticating →
// CharacterSelection → Playing; Playing → CharacterSelection; Playing ↔ Disconnected; every
// state except Closed → Closed. Closed is terminal. Self-transitions are rejected.
func DefaultMachine() *Machine { return defaultMachine }

var defaultMachine = func() *Machine {
	edges := []Edge{
		{Connecting, Authenticating},
		{Authenticating, CharacterSelection},
		{CharacterSelection, Playing},
		{Playing, CharacterSelection},
		{Playing, Disconnected},
		{Disconnected, Playing},
	}
	for s := Connecting; s < Closed; s++ {
		edges = append(edges, Edge{s, Closed})
	}
	m, err := NewMachine([]string{"connecting", "authenticating", "character_selection", "playing", "disconnected", "closed"}, edges)
	if err != nil {
		panic(err) // broken invariant: the table above is valid
	}
	return m
}()

// Len returns the number of states.
func (m *Machine) Len() int { return len(m.names) }

// Name returns the name of state s, or "" for a state the machine does not have.
func (m *Machine) Name(s State) string {
	if int(s) >= len(m.names) {
		return ""
	}
	return m.names[s]
}

// Lookup returns the state named name and whether it exists.
func (m *Machine) Lookup(name string) (State, bool) {
	for i, n := range m.names {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// Allowed reports whether from → to is an edge of the machine.
func (m *Machine) Allowed(from, to State) bool {
	return int(from) < MaxStates && int(to) < MaxStates && m.allowed[from]&(1<<to) != 0
}

// Check returns nil when from → to is allowed and the preallocated *TransitionError
// otherwise. It does not allocate.
func (m *Machine) Check(from, to State) error {
	if m.Allowed(from, to) {
		return nil
	}
	n := len(m.names)
	if int(from) >= n || int(to) >= n {
		return &TransitionError{From: from, To: to, FromName: "?", ToName: "?"}
	}
	return m.errs[int(from)*n+int(to)]
}
