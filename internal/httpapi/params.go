package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wainbox/wainbox/internal/auth"
)

// Request parameters and helpers shared by the handlers.

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

// serveConversationList answers the GET routes that list something of one conversation: the id
// from the path, ?limit=, the caller (whose permission load checks) and each row as its view.
func serveConversationList[T, V any](w http.ResponseWriter, r *http.Request,
	load func(context.Context, *auth.Principal, int64, int) ([]T, error), view func(*T) V) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit, err := pageSize(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, err := load(r.Context(), auth.FromContext(r.Context()), id, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	list := listJSON[V]{Data: make([]V, len(rows))}
	for i := range rows {
		list.Data[i] = view(&rows[i])
	}
	writeJSON(w, http.StatusOK, list)
}

const (
	defaultPageSize = 50
	maxPageSize     = 200
)

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &apiError{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("%q is not a valid id", r.PathValue("id"))}
	}
	return id, nil
}

func pageSize(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, errBadRequest("invalid_limit", "limit must be a whole number from 1 to %d", maxPageSize)
	}
	return n, nil
}
