// An independent streaming client built from Debian's spdystream and gorilla/websocket,
// doing what client-go's SPDY and WebSocket executors do. It checks hulld's server
// against other implementations of the wire formats than the Python test kit.
//
//	goclient spdy-exec URL STDIN   -> JSON {protocol, stdout, stderr, error}
//	goclient ws-exec URL STDIN     (v5.channel.k8s.io; STDIN then a CLOSE signal)
//	goclient spdy-forward URL PORT REQUEST -> JSON {data, error}
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/docker/spdystream"
	"github.com/gorilla/websocket"
)

type result struct {
	Protocol string `json:"protocol"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
	Error    string `json:"error"`
	Data     string `json:"data"`
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func upgradeSPDY(raw string, protocols []string) (*spdystream.Connection, string) {
	u, err := url.Parse(raw)
	if err != nil {
		fail(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		fail(err)
	}
	req, _ := http.NewRequest("POST", raw, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	for _, p := range protocols {
		req.Header.Add("X-Stream-Protocol-Version", p)
	}
	if err := req.Write(conn); err != nil {
		fail(err)
	}
	reader := bufio.NewReader(conn)
	resp, err := http.ReadResponse(reader, req)
	if err != nil {
		fail(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		fail(fmt.Errorf("upgrade refused: %s", resp.Status))
	}
	if reader.Buffered() > 0 {
		fail(fmt.Errorf("bytes after the upgrade response"))
	}
	sc, err := spdystream.NewConnection(conn, false)
	if err != nil {
		fail(err)
	}
	go sc.Serve(spdystream.NoOpStreamHandler)
	return sc, resp.Header.Get("X-Stream-Protocol-Version")
}

func create(sc *spdystream.Connection, headers http.Header) *spdystream.Stream {
	s, err := sc.CreateStream(headers, nil, false)
	if err != nil {
		fail(err)
	}
	if err := s.WaitTimeout(30 * time.Second); err != nil {
		fail(err)
	}
	return s
}

func spdyExec(raw, stdin string) result {
	sc, protocol := upgradeSPDY(raw, []string{"v4.channel.k8s.io", "v3.channel.k8s.io",
		"v2.channel.k8s.io", "channel.k8s.io"})
	streams := map[string]*spdystream.Stream{}
	for _, kind := range []string{"error", "stdin", "stdout", "stderr"} {
		h := http.Header{}
		h.Set("streamType", kind)
		streams[kind] = create(sc, h)
	}
	out := result{Protocol: protocol}
	var wg sync.WaitGroup
	read := func(kind string, into *string) {
		defer wg.Done()
		data, _ := io.ReadAll(streams[kind])
		*into = string(data)
	}
	wg.Add(3)
	go read("stdout", &out.Stdout)
	go read("stderr", &out.Stderr)
	go read("error", &out.Error)
	streams["stdin"].Write([]byte(stdin))
	streams["stdin"].Close()
	wg.Wait()
	sc.Close()
	return out
}

func wsExec(raw, stdin string) result {
	u, _ := url.Parse(raw)
	u.Scheme = "ws"
	dialer := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io", "v4.channel.k8s.io"}}
	ws, resp, err := dialer.Dial(u.String(), nil)
	if err != nil {
		fail(err)
	}
	out := result{Protocol: resp.Header.Get("Sec-WebSocket-Protocol")}
	ws.WriteMessage(websocket.BinaryMessage, append([]byte{0}, []byte(stdin)...))
	ws.WriteMessage(websocket.BinaryMessage, []byte{255, 0})
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			break
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case 1:
			out.Stdout += string(msg[1:])
		case 2:
			out.Stderr += string(msg[1:])
		case 3:
			out.Error += string(msg[1:])
		}
	}
	return out
}

func spdyForward(raw, port, request string) result {
	sc, protocol := upgradeSPDY(raw, []string{"portforward.k8s.io"})
	h := http.Header{}
	h.Set("streamType", "error")
	h.Set("port", port)
	h.Set("requestID", "0")
	errStream := create(sc, h)
	errStream.Close()
	h.Set("streamType", "data")
	data := create(sc, h)
	out := result{Protocol: protocol}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		msg, _ := io.ReadAll(errStream)
		out.Error = string(msg)
	}()
	data.Write([]byte(request))
	data.Close()
	body, _ := io.ReadAll(data)
	out.Data = string(body)
	wg.Wait()
	sc.Close()
	return out
}

func main() {
	if len(os.Args) < 4 {
		fail(fmt.Errorf("usage: goclient spdy-exec|ws-exec URL STDIN | spdy-forward URL PORT REQUEST"))
	}
	var out result
	switch os.Args[1] {
	case "spdy-exec":
		out = spdyExec(os.Args[2], os.Args[3])
	case "ws-exec":
		out = wsExec(os.Args[2], os.Args[3])
	case "spdy-forward":
		out = spdyForward(os.Args[2], os.Args[3], os.Args[4])
	default:
		fail(fmt.Errorf("unknown mode %s", os.Args[1]))
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
