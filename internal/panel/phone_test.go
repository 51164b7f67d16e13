package panel_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/simulator"
)

// screenshot saves a PNG of the page to $WAINBOX_SCREENSHOTS/name when that variable names a
// directory (the README's pictures are made with WAINBOX_SCREENSHOTS=docs); otherwise it only
// checks that a screenshot can be taken.
func (p *page) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := contextWithTimeout(p)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(p.t, err)
	require.NotEmpty(p.t, png)
	if dir := os.Getenv("WAINBOX_SCREENSHOTS"); dir != "" {
		require.NoError(p.t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
	}
}

// photo is the image the customer sends: a 240×160 PNG of a few colour bands.
func photo(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 240, 160))
	for y := range 160 {
		for x := range 240 {
			img.Set(x, y, color.RGBA{R: uint8(x), G: uint8(120 + y/2), B: uint8(200 - y), A: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// TestSimulatorPhonePage: a customer on the simulator's phone page and an agent in the panel
// talk: text both ways with ticks, an interactive message answered by a button, a location and
// an image. It also takes the README's screenshots.
func TestSimulatorPhonePage(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	_, token := in.CreateUser("ana.agent@example.com", auth.RoleAgent)
	for i, name := range []string{"Carlos", "Beatriz", "Diego"} {
		_, err := in.Simulator().SendInbound(t.Context(), &simulator.InboundInput{From: "54911555001" + string(rune('0'+i)), Name: name, Text: "Hola, ¿a qué hora abren?"})
		require.NoError(t, err)
	}
	agent, phone := newPage(t), newPage(t)
	agent.login(in.URL, "ana.agent@example.com")

	phone.must(
		chromedp.Navigate(in.URL+"/simulator/phone"),
		chromedp.WaitVisible(chromedp.CSS(`#wa-id`)),
		chromedp.Clear(chromedp.CSS(`#wa-id`)), chromedp.SendKeys(chromedp.CSS(`#wa-id`), "5491155550100"),
		chromedp.Clear(chromedp.CSS(`#name`)), chromedp.SendKeys(chromedp.CSS(`#name`), "Valentina"),
		chromedp.Click(chromedp.CSS(`#customer button[type=submit]`)),
		chromedp.SendKeys(chromedp.CSS(`#text`), "Hola, quiero cambiar mi pedido"),
		chromedp.Click(chromedp.CSS(`#send`)),
	)
	phone.waitJS(eventually, `[...document.querySelectorAll('#chat li.customer')].some(e => e.textContent.includes('quiero cambiar') && e.dataset.status === 'delivered')`)
	agent.waitJS(eventually, listHas("Valentina"))
	agent.screenshot("panel-inbox.png")

	// The agent opens it (which marks it read: blue ticks on the phone), takes it over, replies.
	agent.openConversation("Valentina")
	phone.waitJS(eventually, `[...document.querySelectorAll('#chat li.customer')].some(e => e.textContent.includes('quiero cambiar') && e.dataset.status === 'read')`)
	agent.click(`.thread-header .takeover`)
	agent.waitJS(eventually, `document.querySelector('.thread-header .chip.status-open') !== null`)
	agent.typeAndSend("¡Claro! ¿Qué quieres cambiar?")
	phone.waitJS(eventually, `[...document.querySelectorAll('#chat li.business')].some(e => e.textContent.includes('¿Qué quieres cambiar?'))`)

	// An interactive message: the customer taps a button.
	convID := eval[int](agent, `Number(location.hash.split('/')[2])`)
	in.Do("POST", "/api/conversations/"+itoa(convID)+"/messages", token, map[string]any{
		"client_id": uuid.NewString(), "type": "interactive",
		"interactive": map[string]any{"type": "button", "body": map[string]any{"text": "¿Te lo enviamos mañana?"},
			"action": map[string]any{"buttons": []map[string]any{
				{"type": "reply", "reply": map[string]any{"id": "yes", "title": "Sí, mañana"}},
				{"type": "reply", "reply": map[string]any{"id": "no", "title": "Otro día"}},
			}}},
	}, 202, nil)
	phone.waitJS(eventually, `[...document.querySelectorAll('#chat .choice')].some(b => b.textContent === 'Sí, mañana')`)
	phone.do(`[...document.querySelectorAll('#chat .choice')].find(b => b.textContent === 'Sí, mañana').click()`)
	agent.waitJS(eventually, `[...document.querySelectorAll('.msg.in .body.answered')].some(e => e.textContent.includes('Sí, mañana'))`)

	// A location and an image from the phone.
	phone.click(`#location`)
	agent.waitJS(eventually, `[...document.querySelectorAll('.msg.in .location')].some(e => e.textContent.includes('-34.6037'))`)
	img := filepath.Join(t.TempDir(), "foto.png")
	require.NoError(t, os.WriteFile(img, photo(t), 0o600))
	phone.must(chromedp.SetUploadFiles(chromedp.CSS(`#image`), []string{img}))
	// The file is fetched from the fake Meta into the store; the panel shows it from a blob: URL.
	agent.waitJS(eventually, `document.querySelector('.msg.in .media-image img')?.src.startsWith('blob:') === true`)
	agent.typeAndSend("Perfecto, queda para mañana")
	agent.waitJS(eventually, outboundWith("Perfecto, queda para mañana", "read"))
	phone.waitJS(eventually, `[...document.querySelectorAll('#chat li.business')].some(e => e.textContent.includes('queda para mañana'))`)

	// The agent attaches the photo back: uploaded, sent, shown from the store, read on the phone.
	agent.must(chromedp.SetUploadFiles(chromedp.CSS(`.composer .file`), []string{img}))
	agent.waitJS(eventually, `[...document.querySelectorAll('.msg.out')].some(e => e.querySelector('.media-image img')?.src.startsWith('blob:') && e.dataset.status === 'read')`)
	phone.waitJS(eventually, `[...document.querySelectorAll('#chat li.business')].some(e => e.textContent.includes('Image'))`)

	agent.screenshot("panel-conversation.png")
	phone.must(chromedp.EmulateViewport(420, 800))
	phone.screenshot("simulator-phone.png")
}
