package simulator_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// The client reads the number's rating over HTTP, as from Meta; an expired token answers 190 to
// that call and to sends alike, until it is replaced.
func TestPhoneNumberRatingAndExpiredToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	n, err := h.client.PhoneNumber(t.Context(), testPhoneID)
	require.NoError(t, err)
	require.Equal(t, testPhoneID, n.ID)
	require.Equal(t, "GREEN", n.QualityRating)
	require.Equal(t, "TIER_1K", n.MessagingLimitTier)
	require.Equal(t, "STANDARD", n.Throughput.Level)

	h.sim.SetNumber(simulator.NumberSettings{QualityRating: "YELLOW", MessagingLimitTier: "TIER_10K"})
	n, err = h.client.PhoneNumber(t.Context(), testPhoneID)
	require.NoError(t, err)
	require.Equal(t, "YELLOW", n.QualityRating)
	require.Equal(t, "TIER_10K", n.MessagingLimitTier)

	h.sim.SetNumber(simulator.NumberSettings{TokenExpired: true})
	_, err = h.client.PhoneNumber(t.Context(), testPhoneID)
	var apiErr *whatsapp.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, 190, apiErr.Code)
	require.Equal(t, whatsapp.ClassStopNumber, whatsapp.Classify(err))
	_, err = h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hello"))
	require.Equal(t, "190", whatsapp.MetricCode(err))

	h.sim.SetNumber(simulator.NumberSettings{})
	_, err = h.client.PhoneNumber(t.Context(), testPhoneID)
	require.NoError(t, err)
}
