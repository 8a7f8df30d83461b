package procluster

import (
	"fmt"
	"io"
	"net"
	"strconv"
)

// pickPorts finds n gossip ports (free for both TCP and UDP, as memberlist
// binds both) and n HTTP ports (TCP) on host, all distinct. It holds every
// socket until all are found and then closes them, so the ports are free but
// another process may still take one before a member binds it: Start
// retries when that happens.
func pickPorts(host string, n int) (gossip, httpPorts []int, err error) {
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	const maxTries = 100
	for i := 0; i < n; i++ {
		port, closers, err := pickGossipPort(host, maxTries, anyTCPPort)
		if err != nil {
			return nil, nil, err
		}
		held = append(held, closers...)
		gossip = append(gossip, port)
	}
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, fmt.Errorf("procluster: pick a port: %w", err)
		}
		held = append(held, ln)
		httpPorts = append(httpPorts, ln.Addr().(*net.TCPAddr).Port)
	}
	return gossip, httpPorts, nil
}

// anyTCPPort listens on a port of the kernel's choice.
func anyTCPPort(host string) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(host, "0"))
}

// pickGossipPort finds a port that is free for TCP and UDP and returns the
// sockets that hold it. listenTCP gets a TCP port, the candidate.
func pickGossipPort(host string, maxTries int, listenTCP func(host string) (net.Listener, error)) (int, []io.Closer, error) {
	var lastErr error
	for try := 0; try < maxTries; try++ {
		ln, err := listenTCP(host)
		if err != nil {
			return 0, nil, fmt.Errorf("procluster: pick a port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			ln.Close()
			lastErr = err
			continue
		}
		return port, []io.Closer{ln, pc}, nil
	}
	return 0, nil, fmt.Errorf("procluster: no port free for TCP and UDP after %d tries: %w",
		maxTries, lastErr)
}
