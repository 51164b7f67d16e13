package realtime

import "sync"

// admission counts this instance's sockets against its two caps: the sockets still to
// authenticate, which cost a goroutine pair and a buffer each for up to the auth timeout before
// anyone is known, and each user's authenticated sockets. Without them one stolen token, or no
// token at all, could hold as many sockets as the process has file descriptors.
type admission struct {
	maxUnauthenticated int
	maxPerUser         int

	mu              sync.Mutex
	unauthenticated int
	perUser         map[int64]int
}

func newAdmission(maxUnauthenticated, maxPerUser int) *admission {
	return &admission{maxUnauthenticated: maxUnauthenticated, maxPerUser: maxPerUser, perUser: make(map[int64]int)}
}

// open reserves a slot for a socket about to be upgraded, which counts as unauthenticated until
// promote moves it to its user; it reports false, reserving nothing, when the cap is reached.
func (a *admission) open() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.unauthenticated >= a.maxUnauthenticated {
		return false
	}
	a.unauthenticated++
	return true
}

// promote moves an unauthenticated socket's slot to userID. It reports false, leaving the slot
// where it was, when the user already holds the most sockets allowed.
func (a *admission) promote(userID int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.perUser[userID] >= a.maxPerUser {
		return false
	}
	a.unauthenticated--
	a.perUser[userID]++
	return true
}

// release frees a socket's slot: userID's, or an unauthenticated one when userID is 0.
func (a *admission) release(userID int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if userID == 0 {
		a.unauthenticated--
		return
	}
	if a.perUser[userID]--; a.perUser[userID] <= 0 {
		delete(a.perUser, userID)
	}
}
