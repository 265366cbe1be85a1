// sd_gotcp: a static Go program whose goroutine is blocked reading a TCP
// connection, for sock-shutdown tests (build with CGO_ENABLED=0).
//
// Opens a listener on 127.0.0.1, dials it and accepts, then prints
//
//	READY {"pid": P, "port": PORT, "fds": {"listen": L, "client": C, "accepted": A}}
//
// and reads from the client connection (through Go's netpoller: the fd is
// non-blocking and the goroutine parks; an idle thread waits in
// epoll_pwait).  When the read returns it prints
//
//	WOKE fd=C ret=N err=ERR
//
// (ERR is "EOF" for end-of-file, "nil" for none) and stays alive until
// killed, keeping every connection open.
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"
)

func fdOf(c syscall.Conn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		panic(err)
	}
	fd := -1
	if err := raw.Control(func(f uintptr) { fd = int(f) }); err != nil {
		panic(err)
	}
	return fd
}

var keep []interface{} // unreachable connections would be closed by finalizers

func main() {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	client, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	accepted, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	keep = append(keep, ln, client, accepted)
	cfd := fdOf(client.(*net.TCPConn))
	fmt.Printf("READY {\"pid\": %d, \"port\": %d, \"fds\": {\"listen\": %d, \"client\": %d, \"accepted\": %d}}\n",
		os.Getpid(), ln.Addr().(*net.TCPAddr).Port, fdOf(ln.(*net.TCPListener)), cfd, fdOf(accepted.(*net.TCPConn)))

	buf := make([]byte, 64)
	n, err := client.Read(buf)
	desc := "nil"
	if errors.Is(err, io.EOF) {
		desc = "EOF"
	} else if err != nil {
		desc = fmt.Sprintf("%q", err.Error())
	}
	fmt.Printf("WOKE fd=%d ret=%d err=%s\n", cfd, n, desc)
	for {
		time.Sleep(time.Hour) // a sleeping goroutine is not a deadlock
		runtime.KeepAlive(keep)
	}
}
