// Package restapi is ringd's app-facing HTTP API, served on echo v4.
//
// Handlers read the daemon only through narrow interfaces (Source, and
// optionally ClusterSource, Actions and Acknowledger), so they test with a
// fake and never need a cluster (STYLE.md item 6). Every error a client can
// cause is a 4xx with a JSON api.Error body; a 500 only ever means a bug in
// ringd.
//
// The comment lines below starting with @ are the general part of the OpenAPI
// document that swag generates into docs/openapi (see docs/openapi/openapi.go
// for the command); every handler carries its own.
//
//	@title						ringd app-facing API
//	@version					1
//	@description				The local API of a ringd sidecar: which partitions this member's application owns (with long-poll watches in the manner of Consul blocking queries), the whole assignment table, key lookups, members and leader, release acknowledgements, admin actions, health and readiness probes, Prometheus metrics and a live dashboard.
//	@description
//	@description				Every error is JSON {"error": "..."} with a message that says what to do. Long-polls: pass the X-Ringd-Index header (or the body's index) of your last answer as ?index= and the call returns as soon as the index differs, or at ?wait= with the same index.
//	@description
//	@description				Admin endpoints need "Authorization: Bearer TOKEN" (TOKEN from the file given to --admin-token-file) when ringd runs with one; without one they are open (ringd listens on 127.0.0.1 by default).
//	@BasePath					/
//	@schemes					http
//	@accept						json
//	@produce					json
//	@securityDefinitions.apikey	AdminToken
//	@in							header
//	@name						Authorization
//	@description				"Bearer TOKEN", where TOKEN is the content of the file given to ringd's --admin-token-file. Needed only when ringd runs with one.
package restapi
