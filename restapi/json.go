package restapi

import (
	"encoding/json"

	"github.com/labstack/echo/v4"
)

// jsonSerializer is echo's JSON encoding without HTML escaping: the API
// answers programs and people reading JSON, not HTML pages, and a message
// that quotes "<" should show "<", not "\u003c".
type jsonSerializer struct{ echo.DefaultJSONSerializer }

func (jsonSerializer) Serialize(c echo.Context, v any, indent string) error {
	enc := json.NewEncoder(c.Response())
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent("", indent)
	}
	return enc.Encode(v)
}
