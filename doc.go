// Package releaseops holds the domain types shared by every part of ReleaseOps: the catalog
// entry of a service, the deliveries that arrive over webhooks, the typed facts they are
// normalised into, and the error codes that the HTTP layer maps to status codes.
//
// Implementations live in packages named after what they depend on or do: storage (SQLite),
// integrations/* (one per webhook source), scoring (pure), server (HTTP), bot (Slack), gate.
package releaseops
