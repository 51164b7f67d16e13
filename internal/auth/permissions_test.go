package auth

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanSeeConversation(t *testing.T) {
	t.Parallel()
	id := func(v int64) *int64 { return &v }
	tests := []struct {
		name     string
		p        *Principal
		assignee *int64
		want     bool
	}{
		{"nobody", nil, nil, false},
		{"admin unassigned", &Principal{UserID: 1, Role: RoleAdmin}, nil, true},
		{"admin another's", &Principal{UserID: 1, Role: RoleAdmin}, id(2), true},
		{"supervisor another's", &Principal{UserID: 1, Role: RoleSupervisor}, id(2), true},
		{"agent unassigned", &Principal{UserID: 1, Role: RoleAgent}, nil, true},
		{"agent own", &Principal{UserID: 1, Role: RoleAgent}, id(1), true},
		{"agent another's", &Principal{UserID: 1, Role: RoleAgent}, id(2), false},
		{"unknown role", &Principal{UserID: 1, Role: "guest"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, CanSeeConversation(tt.p, tt.assignee))
		})
	}
}
