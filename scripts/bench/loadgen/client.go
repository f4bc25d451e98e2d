package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// stdDo sends one request with net/http and reads the whole answer; the
// body is returned when keep is set.
func stdDo(client *http.Client, method, u string, rd io.Reader, auth, contentType string, keep bool) (int, []byte, error) {
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if keep && resp.StatusCode/100 == 2 {
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil, err
}

// rawRequests caches the bytes of each distinct request.
var rawRequests sync.Map

// rawRequest returns the HTTP/1.1 request for u with the Authorization
// header value auth (may be empty), built once: a GET, or with form set a
// POST of the form-encoded body.
func rawRequest(base *url.URL, u, auth, form string) []byte {
	key := u + "\x00" + auth + "\x00" + form
	if b, ok := rawRequests.Load(key); ok {
		return b.([]byte)
	}
	p, err := url.Parse(u)
	if err != nil {
		fatal(err)
	}
	var b strings.Builder
	method := http.MethodGet
	if form != "" {
		method = http.MethodPost
	}
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: portus-loadgen\r\n", method, p.RequestURI(), base.Host)
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	if form != "" {
		fmt.Fprintf(&b, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(form))
	}
	b.WriteString("\r\n")
	b.WriteString(form)
	req := []byte(b.String())
	rawRequests.Store(key, req)
	return req
}

// rawConn is one keep-alive connection of the minimal client. It reads
// the status line and the headers it needs (Content-Length, chunked,
// Connection: close) and skips the body; on any error it reconnects at
// the next request.
type rawConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawConn) do(req []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.r == nil {
			c.r = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.r.Reset(conn)
		}
	}
	status, err := c.roundTrip(req)
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *rawConn) roundTrip(req []byte) (int, error) {
	if _, err := c.conn.Write(req); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, _ := bytes.Cut(h, []byte(":"))
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, fmt.Errorf("malformed Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			l, err := c.r.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			n, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(l, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("malformed chunk size %q", l)
			}
			if _, err := c.r.Discard(int(n) + 2); err != nil {
				return 0, err
			}
			if n == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := c.r.Discard(length); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("answer without Content-Length")
	}
	if closing {
		c.close()
	}
	return status, nil
}
