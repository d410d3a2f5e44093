package regex

// SetBounds lowers gsub's bounds for a test and returns the restore:
// the bounds are reached as surely, in a fraction of the time.
func SetBounds(matches, result int) (restore func()) {
	m, r := maxMatches, maxResult
	maxMatches, maxResult = matches, result
	return func() { maxMatches, maxResult = m, r }
}
