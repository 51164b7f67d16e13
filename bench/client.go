package main

import (
	"fmt"
	"time"

	"github.com/valyala/fasthttp"
)

// loadClient is the HTTP client the load phases post with. It is fasthttp's rather than
// net/http's because the load generator runs on the same two cores as the server it measures:
// net/http's client spends two goroutines per connection and several allocations per request,
// CPU that Meta's servers and agents' browsers spend on their own machines, and that would be
// charged to the server here. The server under test is wainbox's own, on net/http, and every
// request is real HTTP/1.1 over TCP.
type loadClient struct {
	c *fasthttp.Client
}

func newLoadClient(conns int) *loadClient {
	return &loadClient{c: &fasthttp.Client{
		MaxConnsPerHost:     conns,
		MaxIdleConnDuration: time.Minute,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
		// Wait for a free connection rather than fail when all are busy.
		MaxConnWaitTimeout: 30 * time.Second,
	}}
}

// post sends body to url with the headers (name, value pairs) and hands the response's status
// and body to read, whose slice is valid only during the call.
func (l *loadClient) post(url string, headers []string, body []byte, read func(status int, body []byte) error) error {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.SetBodyRaw(body)
	if err := l.c.Do(req, resp); err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	return read(resp.StatusCode(), resp.Body())
}
