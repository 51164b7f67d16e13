package reports

// SetBatches makes the rollup's steps small, so tests cover a rebuild and a catch-up that take
// several steps without writing thousands of rows.
func (r *Rollup) SetBatches(conversations, events int) { r.batch, r.events = conversations, events }
