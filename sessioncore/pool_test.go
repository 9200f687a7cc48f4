package sessioncore

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// pipe registers a net.Pipe end for id and returns the other end to read from.
func pipe(t *testing.T, p *Pool, id, proto string) net.Conn {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { _ = b.Close() })
	if err := p.Register(id, NetConn(a, proto)); err != nil {
		t.Fatalf("Register %s: %v", id, err)
	}
	return b
}

func readN(t *testing.T, c net.Conn, n int) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, n)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("reading %d bytes: %v", n, err)
	}
	return string(buf)
}

func TestPoolDelivery(t *testing.T) {
	p := NewPool(PoolConfig{})
	defer p.Close()
	ends := map[string]net.Conn{}
	for i := range 5 {
		id := fmt.Sprintf("c%d", i)
		proto := "tcp"
		if i%2 == 1 {
			proto = "ws"
		}
		ends[id] = pipe(t, p, id, proto)
	}
	if p.Count() != 5 || p.CountByProtocol("ws") != 2 || p.CountByProtocol("tcp") != 3 {
		t.Errorf("for counts, got %d/%d/%d, want 5/2/3", p.Count(), p.CountByProtocol("ws"), p.CountByProtocol("tcp"))
	}
	if err := p.Register("c0", NetConn(nil, "tcp")); !errors.Is(err, ErrAlreadyRegistered) {
		t.Errorf("for a second Register, got %v, want ErrAlreadyRegistered", err)
	}
	if err := p.Send("c3", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, ends["c3"], 3); got != "one" {
		t.Errorf("for Send to c3, read %q, want one", got)
	}
	if n := p.Broadcast([]byte("all!")); n != 5 {
		t.Errorf("for Broadcast, got %d, want 5", n)
	}
	for id, c := range ends {
		if got := readN(t, c, 4); got != "all!" {
			t.Errorf("for Broadcast at %s, read %q", id, got)
		}
	}
	if n := p.BroadcastTo([]string{"c1", "c4", "missing"}, []byte("some")); n != 2 {
		t.Errorf("for BroadcastTo, got %d, want 2", n)
	}
	for _, id := range []string{"c1", "c4"} {
		if got := readN(t, ends[id], 4); got != "some" {
			t.Errorf("for BroadcastTo at %s, read %q", id, got)
		}
	}
	if err := p.Send("missing", []byte("x")); !errors.Is(err, ErrNotFound) {
		t.Errorf("for Send to a missing id, got %v, want ErrNotFound", err)
	}
	active := p.Active()
	slices.Sort(active)
	if !slices.Equal(active, []string{"c0", "c1", "c2", "c3", "c4"}) {
		t.Errorf("for Active, got %v", active)
	}
}

// TestPoolRealTCP sends over a loopback TCP connection.
func TestPoolRealTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	p := NewPool(PoolConfig{})
	defer p.Close()
	if err := p.Register("tcp1", NetConn(server, "tcp")); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := p.Send("tcp1", []byte(fmt.Sprintf("%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	got := readN(t, client, 300)
	for i := range 100 {
		if want := fmt.Sprintf("%03d", i); got[3*i:3*i+3] != want {
			t.Fatalf("for message %d, read %q, want %q", i, got[3*i:3*i+3], want)
		}
	}
}

// TestSlowConsumer: one connection is never read. With DropMessage its extra messages are
// dropped; with Disconnect it is closed. Broadcasts never block and the others get everything.
func TestSlowConsumer(t *testing.T) {
	for _, policy := range []SlowPolicy{DropMessage, Disconnect} {
		t.Run("policy="+policy.String(), func(t *testing.T) {
			p := NewPool(PoolConfig{QueueSize: 4, Policy: policy})
			defer p.Close()
			slow := pipe(t, p, "slow", "tcp")
			fast := pipe(t, p, "fast", "tcp")
			for i := range 20 {
				msg := fmt.Sprintf("%02d", i)
				p.Broadcast([]byte(msg)) // returns even though slow never reads
				if got := readN(t, fast, 2); got != msg {
					t.Fatalf("for the fast consumer's message %d, got %q", i, got)
				}
			}
			st := p.Stats()
			if st.Dropped == 0 {
				t.Errorf("for Dropped, got 0, want the slow consumer's overflow")
			}
			if policy == Disconnect {
				if p.Count() != 1 || !slices.Equal(p.Active(), []string{"fast"}) {
					t.Errorf("for Count/Active, got %d %v, want only fast", p.Count(), p.Active())
				}
				if err := p.Send("slow", []byte("x")); !errors.Is(err, ErrDisconnected) {
					t.Errorf("for Send to the disconnected one, got %v", err)
				}
				_ = slow.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadAll(slow); err != nil && !errors.Is(err, io.EOF) {
					t.Errorf("reading the closed slow end: %v", err)
				}
			} else if p.Count() != 2 {
				t.Errorf("for Count with DropMessage, got %d, want 2", p.Count())
			}
		})
	}
}

func TestPoolUnregisterAndCleanup(t *testing.T) {
	r := newTestRegistry(t, Config{})
	ctx := t.Context()
	p := NewPool(PoolConfig{Registry: r})
	defer p.Close()
	for _, id := range []string{"u1", "u2", "u3"} {
		s, _ := r.Start(ctx, Spec{Key: id})
		for _, st := range []State{Authenticating, CharacterSelection, Playing} {
			if err := s.Transition(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	pipe(t, p, "u1", "tcp")
	peer := pipe(t, p, "u2", "tcp")
	pipe(t, p, "u3", "tcp")
	if err := p.Unregister("u1"); err != nil {
		t.Fatal(err)
	}
	if err := p.Unregister("u1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("for a second Unregister, got %v, want ErrNotFound", err)
	}
	s1, _ := r.Lookup("u1")
	if s1.State() != Disconnected {
		t.Errorf("after Unregister, state %v, want Disconnected", s1.State())
	}
	// The peer of u2 goes away: the writer's next Send fails and u2 becomes disconnected.
	_ = peer.Close()
	_ = p.Send("u2", []byte("lost"))
	deadline := time.Now().Add(5 * time.Second)
	for p.Count() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if ids := p.CleanupDisconnected(); !slices.Equal(ids, []string{"u2"}) {
		t.Errorf("for CleanupDisconnected, got %v, want [u2]", ids)
	}
	s2, _ := r.Lookup("u2")
	if s2.State() != Disconnected {
		t.Errorf("after cleanup, u2's state %v, want Disconnected", s2.State())
	}
	if !slices.Equal(p.Active(), []string{"u3"}) {
		t.Errorf("for Active, got %v, want [u3]", p.Active())
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Register("late", NetConn(nil, "tcp")); !errors.Is(err, ErrClosed) {
		t.Errorf("for Register after Close, got %v, want ErrClosed", err)
	}
}
