// Package bot is ReleaseOps' Slack transport: it verifies and answers /readiness and button
// clicks (over HTTP or Socket Mode), renders every message in Block Kit, composes release
// notes from GitHub, and delivers Slack messages for the durable outbox.
//
// Nothing here posts directly: every outgoing message is queued in the outbox (package
// outbox) in the same transaction as the change that caused it, and delivered by the Senders
// this package registers. The gate uses the exported builders (ApprovalRequestMessage,
// ApprovalDecidedMessage) and queue helpers (EnqueuePost, EnqueueUpdate) for its own
// messages, and implements ApprovalHandler for the Approve and Deny buttons.
package bot
