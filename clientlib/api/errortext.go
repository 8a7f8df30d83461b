package api

import (
	"encoding/json"
	"strings"
)

// maxErrorText bounds how much of a body that is not ringd's error JSON
// ErrorText returns (a proxy's HTML page).
const maxErrorText = 200

// ErrorText is the message of an error answer: the "error" of ringd's JSON
// error body, else the start of whatever came back (a proxy in between),
// or "(empty body)".
func ErrorText(body []byte) string {
	var e Error
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > maxErrorText {
		s = s[:maxErrorText] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
