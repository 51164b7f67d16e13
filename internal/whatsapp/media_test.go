package whatsapp_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

func TestMediaInfo(t *testing.T) {
	t.Parallel()

	for name, size := range map[string]string{"number": `303833`, "string": `"303833"`} {
		t.Run("file_size as "+name, func(t *testing.T) {
			t.Parallel()
			client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				require.Equal(t, http.MethodGet, r.Method)
				require.Equal(t, "/v24.0/2621233374848975", r.URL.Path)
				require.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
				_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","url":"https://lookaside.example/x","mime_type":"image/jpeg",`+
					`"sha256":"abc","file_size":`+size+`,"id":"2621233374848975"}`)
			})
			info, err := client.MediaInfo(t.Context(), "2621233374848975")
			require.NoError(t, err)
			require.Equal(t, &whatsapp.MediaInfo{MessagingProduct: "whatsapp", URL: "https://lookaside.example/x",
				MimeType: "image/jpeg", SHA256: "abc", FileSize: 303833, ID: "2621233374848975"}, info)
		})
	}

	t.Run("unknown media id", func(t *testing.T) {
		t.Parallel()
		client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"message":"Unsupported get request. Object with ID '1' does not exist","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"A1"}}`)
		})
		_, err := client.MediaInfo(t.Context(), "1")
		require.ErrorIs(t, err, whatsapp.ErrMediaNotFound)
		var apiErr *whatsapp.APIError
		require.ErrorAs(t, err, &apiErr)
		require.Equal(t, 33, apiErr.Subcode)
		require.Equal(t, whatsapp.ClassPermanent, whatsapp.Classify(err))
	})
}

func TestDownload(t *testing.T) {
	t.Parallel()
	payload := bytes.Repeat([]byte("wainbox "), 1000)
	sum := sha256.Sum256(payload)

	t.Run("streams with the token and sums the bytes", func(t *testing.T) {
		t.Parallel()
		client, srvURL := newMediaTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			require.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
			w.Header().Set("Content-Type", "image/jpeg")
			_, _ = w.Write(payload)
		})
		var buf bytes.Buffer
		res, err := client.Download(t.Context(), srvURL, &buf, int64(len(payload)))
		require.NoError(t, err)
		require.Equal(t, payload, buf.Bytes())
		require.Equal(t, int64(len(payload)), res.Size)
		require.Equal(t, "image/jpeg", res.ContentType)
		require.True(t, res.Matches(hex.EncodeToString(sum[:])))
		require.True(t, res.Matches(base64.StdEncoding.EncodeToString(sum[:])))
		require.False(t, res.Matches(hex.EncodeToString(make([]byte, 32))))
		require.False(t, res.Matches("not a sum"))
	})

	tests := []struct {
		name    string
		handler http.HandlerFunc
		max     int64
		wantErr error
		class   whatsapp.Class
	}{
		{"404 is an expired URL", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, 0, whatsapp.ErrMediaURLExpired, whatsapp.ClassRetry},
		{"an error body in place of the bytes is an expired URL", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"error":{"message":"URL signature expired","type":"OAuthException","code":100}}`)
		}, 0, whatsapp.ErrMediaURLExpired, whatsapp.ClassRetry},
		{"500 is transient", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "oops", http.StatusInternalServerError)
		}, 0, nil, whatsapp.ClassRetry},
		{"bad token", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":{"message":"Invalid OAuth access token","type":"OAuthException","code":190}}`)
		}, 0, nil, whatsapp.ClassStopNumber},
		{"too large by Content-Length", func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write(payload)
		}, 100, whatsapp.ErrMediaTooLarge, whatsapp.ClassPermanent},
		{"too large while streaming", func(w http.ResponseWriter, r *http.Request) {
			for range 10 { // flushed in chunks, so no Content-Length
				_, _ = w.Write(payload[:500])
				http.NewResponseController(w).Flush()
			}
		}, 4000, whatsapp.ErrMediaTooLarge, whatsapp.ClassPermanent},
		{"body cut short is transient", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "8000")
			_, _ = w.Write(payload[:100])
			http.NewResponseController(w).Flush()
			panic(http.ErrAbortHandler)
		}, 0, nil, whatsapp.ClassRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, srvURL := newMediaTestClient(t, tt.handler)
			res, err := client.Download(t.Context(), srvURL, io.Discard, tt.max)
			require.Error(t, err)
			require.Nil(t, res)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.False(t, errors.Is(err, whatsapp.ErrMediaURLExpired), err)
			}
			require.False(t, whatsapp.OutcomeUnknown(err), "a download changes nothing at Meta: %v", err)
			require.Equal(t, tt.class, whatsapp.Classify(err), err)
			require.NotContains(t, err.Error(), testToken)
		})
	}

	t.Run("refuses a URL that is not absolute", func(t *testing.T) {
		t.Parallel()
		client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { t.Error("no request expected") })
		_, err := client.Download(t.Context(), "/relative", io.Discard, 0)
		require.ErrorIs(t, err, whatsapp.ErrInvalidMessage)
	})
}

// newMediaTestClient returns a client and a media URL on an httptest server running handler.
func newMediaTestClient(t *testing.T, handler http.HandlerFunc) (*whatsapp.Client, string) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	client, err := whatsapp.NewClient(&whatsapp.Config{BaseURL: srv.URL, AccessToken: testToken})
	require.NoError(t, err)
	return client, srv.URL + "/whatsapp_business/attachments/?mid=1&ext=1&hash=x"
}

func TestUploadMedia(t *testing.T) {
	t.Parallel()
	file := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 10_000)

	t.Run("streams Meta's multipart form", func(t *testing.T) {
		t.Parallel()
		client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			require.Equal(t, "/v24.0/106540352242922/media", r.URL.Path)
			require.Equal(t, "Bearer "+testToken, r.Header.Get("Authorization"))
			require.EqualValues(t, -1, r.ContentLength, "the body is streamed, so its length is not known up front")
			mr, err := r.MultipartReader()
			require.NoError(t, err)
			var names []string
			for {
				part, err := mr.NextPart()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				body, err := io.ReadAll(part)
				require.NoError(t, err)
				names = append(names, part.FormName())
				switch part.FormName() {
				case "messaging_product":
					require.Equal(t, "whatsapp", string(body))
				case "type":
					require.Equal(t, "image/png", string(body))
				case "file":
					require.Equal(t, "photo.png", part.FileName())
					require.Equal(t, "image/png", part.Header.Get("Content-Type"))
					require.Equal(t, file, body)
				}
			}
			require.Equal(t, []string{"messaging_product", "type", "file"}, names)
			_, _ = io.WriteString(w, `{"id":"1037543291543636"}`)
		})
		id, err := client.UploadMedia(t.Context(), "106540352242922", "image/png", "photo.png", bytes.NewReader(file))
		require.NoError(t, err)
		require.Equal(t, "1037543291543636", id)
	})

	t.Run("a file that cannot be read", func(t *testing.T) {
		t.Parallel()
		client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = io.WriteString(w, `{"id":"1"}`)
		})
		broken := io.MultiReader(bytes.NewReader(file[:100]), iotest.ErrReader(errors.New("disk on fire")))
		_, err := client.UploadMedia(t.Context(), "106540352242922", "image/png", "photo.png", broken)
		require.ErrorContains(t, err, "disk on fire")
	})

	t.Run("Meta refuses before reading the file", func(t *testing.T) {
		t.Parallel()
		client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"message":"(#131053) Media upload error","type":"OAuthException","code":131053}}`)
		})
		big := io.LimitReader(zeros{}, 64<<20)
		_, err := client.UploadMedia(t.Context(), "106540352242922", "image/png", "photo.png", big)
		var apiErr *whatsapp.APIError
		if !errors.As(err, &apiErr) {
			// The server may close the connection while the file is still being written.
			require.Error(t, err)
			return
		}
		require.Equal(t, 131053, apiErr.Code)
	})

	t.Run("validates before any call", func(t *testing.T) {
		t.Parallel()
		client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { t.Error("no request expected") })
		_, err := client.UploadMedia(t.Context(), "", "image/png", "a.png", strings.NewReader("x"))
		require.ErrorIs(t, err, whatsapp.ErrInvalidMessage)
		_, err = client.UploadMedia(t.Context(), "1", "", "a.png", strings.NewReader("x"))
		require.ErrorIs(t, err, whatsapp.ErrInvalidMessage)
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
