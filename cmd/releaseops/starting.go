package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// startingServer answers on the service's address while it cannot serve yet — PostgreSQL not
// answering at start, retried for storage.connect_retry — so that probes and senders get an
// answer instead of a refused connection: /healthz 200 (the process is alive; restarting it
// will not bring the database), /readyz and everything else 503 with Retry-After (senders
// retry; nothing is acknowledged). Stop hands the listener over to the real server.
type startingServer struct {
	pump *connPump
	srv  *http.Server
	ln   *pumpListener
	done chan struct{}
}

func startStarting(ln net.Listener, why string) *startingServer {
	pump := newConnPump(ln)
	s := &startingServer{pump: pump, ln: pump.listener(false), done: make(chan struct{})}
	s.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"starting"}`)) //nolint:errcheck
			return
		}
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"starting: ` + why + `; retry"}`)) //nolint:errcheck
	})}
	go func() {
		defer close(s.done)
		s.srv.Serve(s.ln) //nolint:errcheck // ends at Stop
	}()
	return s
}

// Stop finishes the answers in flight and returns a listener for the real server: it gets
// every connection accepted from now on, and closing it closes the address.
func (s *startingServer) Stop() net.Listener {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx) //nolint:errcheck // only closes s.ln and idle connections
	<-s.done
	return s.pump.listener(true)
}

// connPump accepts on the real listener and hands each connection to the current
// pumpListener, so that the address stays open while one server gives way to the next.
type connPump struct {
	ln    net.Listener
	conns chan net.Conn
	err   chan struct{}
	once  sync.Once
}

func newConnPump(ln net.Listener) *connPump {
	p := &connPump{ln: ln, conns: make(chan net.Conn), err: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				p.once.Do(func() { close(p.err) })
				return
			}
			select {
			case p.conns <- c:
			case <-p.err:
				c.Close()
				return
			}
		}
	}()
	return p
}

func (p *connPump) listener(owner bool) *pumpListener {
	return &pumpListener{p: p, owner: owner, closed: make(chan struct{})}
}

// pumpListener is a net.Listener fed by a connPump. Closing the owner closes the real one.
type pumpListener struct {
	p      *connPump
	owner  bool
	closed chan struct{}
	once   sync.Once
}

func (l *pumpListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.p.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.p.err:
		return nil, errors.Join(net.ErrClosed, errors.New("listener closed"))
	}
}

func (l *pumpListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	if l.owner {
		return l.p.ln.Close()
	}
	return nil
}

func (l *pumpListener) Addr() net.Addr { return l.p.ln.Addr() }
