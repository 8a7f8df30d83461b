// Package check validates the committed OpenAPI document with an OpenAPI
// validator (go-openapi/validate: the Swagger 2.0 schema, and the rules a
// schema cannot say, such as unique operation IDs, resolvable references
// and path parameters that are declared). It is a module of its own so
// that the validator's dependencies do not change those of ringd or of the
// swag generator.
package check

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/go-openapi/loads"
	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/validate"
)

func TestSwaggerDocumentIsValid(t *testing.T) {
	raw, err := os.ReadFile("../swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := loads.Analyzed(json.RawMessage(raw), "")
	if err != nil {
		t.Fatalf("docs/openapi/swagger.json does not load: %v", err)
	}
	if err := validate.Spec(doc, strfmt.Default); err != nil {
		t.Fatalf("docs/openapi/swagger.json is not a valid Swagger 2.0 document:\n%v", err)
	}
}
