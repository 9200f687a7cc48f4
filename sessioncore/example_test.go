package sessioncore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/benchd/benchd/sessioncore"
)

// counter is a Handler: its state lives in the struct, touched by one message at a time.
type counter struct{ n int }

func (c *counter) HandleCall(_ context.Context, msg any) (any, error) {
	switch msg {
	case "get":
		return c.n, nil
	case "fail":
		return nil, errors.New("asked to fail")
	}
	return nil, fmt.Errorf("unknown call %v", msg)
}

func (c *counter) HandleCast(msg any) {
	if msg == "inc" {
		c.n++
	}
}

func (c *counter) Terminate(reason error) { fmt.Println("terminated:", reason) }

func Example() {
	r, err := sessioncore.New(sessioncore.Config{
		MaxSessions: 10_000,
		TTL:         30 * time.Minute,
		Handlers: map[string]sessioncore.HandlerFactory{
			"counter": func(id string, arg any) (sessioncore.Handler, error) { return &counter{}, nil },
		},
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	ctx := context.Background()

	s, err := r.Start(ctx, sessioncore.Spec{Key: "player-1", Handler: "counter"})
	if err != nil {
		panic(err)
	}
	for range 3 {
		_ = s.Cast("inc") // handled in order, before the call below
	}
	n, _ := r.Call(ctx, "player-1", "get")
	fmt.Println("count:", n)
	_ = r.Terminate(ctx, "player-1")
	// Output:
	// count: 3
	// terminated: terminated
}

func ExampleRegistry_Start() {
	r, _ := sessioncore.New(sessioncore.Config{})
	defer r.Close()
	ctx := context.Background()
	s, _ := r.Start(ctx, sessioncore.Spec{}) // generated ID, default handler
	fmt.Println(len(s.ID()), r.Started(s.ID()))
	_, err := r.Start(ctx, sessioncore.Spec{Key: s.ID()})
	fmt.Println(errors.Is(err, sessioncore.ErrAlreadyStarted))
	_, err = r.Start(ctx, sessioncore.Spec{Key: "not a key"})
	fmt.Println(errors.Is(err, sessioncore.ErrInvalidKey))
	// Output:
	// 22 true
	// true
	// true
}

func ExampleSession_Call() {
	r, _ := sessioncore.New(sessioncore.Config{})
	defer r.Close()
	ctx := context.Background()
	s, _ := r.Start(ctx, sessioncore.Spec{Key: "d"})
	pong, _ := s.Call(ctx, sessioncore.Ping{})
	_, _ = s.Call(ctx, sessioncore.Put{Key: "room", Value: "lobby"})
	room, _ := s.Call(ctx, sessioncore.Get{Key: "room"})
	fmt.Println(pong, room)
	// Output: pong lobby
}

func ExampleSession_Transition() {
	r, _ := sessioncore.New(sessioncore.Config{})
	defer r.Close()
	ctx := context.Background()
	s, _ := r.Start(ctx, sessioncore.Spec{Key: "t"})
	fmt.Println(s.Transition(ctx, sessioncore.Authenticating))
	err := s.Transition(ctx, sessioncore.Playing)
	var te *sessioncore.TransitionError
	fmt.Println(err, errors.As(err, &te) && te.From == sessioncore.Authenticating)
	// Output:
	// <nil>
	// transition from authenticating to playing not allowed true
}

func ExampleRegistry_CleanupExpired() {
	clock := sessioncore.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r, _ := sessioncore.New(sessioncore.Config{Clock: clock, TTL: time.Minute})
	defer r.Close()
	ctx := context.Background()
	active, _ := r.Start(ctx, sessioncore.Spec{Key: "active"})
	_, _ = r.Start(ctx, sessioncore.Spec{Key: "idle"})
	clock.Advance(50 * time.Second)
	active.Touch()
	clock.Advance(50 * time.Second)
	fmt.Println(r.CleanupExpired(), r.List())
	// Output: 1 [active]
}

func ExamplePool() {
	p := sessioncore.NewPool(sessioncore.PoolConfig{QueueSize: 64, Policy: sessioncore.Disconnect})
	defer p.Close()
	server, client := net.Pipe()
	defer client.Close()
	_ = p.Register("player-1", sessioncore.NetConn(server, "tcp"))
	fmt.Println(p.Broadcast([]byte("hello")), p.CountByProtocol("tcp"))
	buf := make([]byte, 5)
	_, _ = io.ReadFull(client, buf)
	fmt.Println(string(buf))
	// Output:
	// 1 1
	// hello
}
