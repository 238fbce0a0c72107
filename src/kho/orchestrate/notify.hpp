// Notifications: telling people that a run failed, succeeded, looked anomalous
// or is late, by a JSON POST to a webhook and/or a command run per event, as a
// policy's `notify` section says.
//
// Message (to_json), version 1; stable snake_case names, absent values null:
//   version      1
//   event        "failure" | "success" | "anomaly" | "late"
//   policy       the policy's name
//   host         the host the run was for
//   time         RFC 3339 with the local offset, "2026-01-30T10:00:00+07:00"
//   kind         what ran: "backup", "check", "prune", "copy", "restore", "drill", ...
//   stage        where a failure happened ("before hook", "upload", ...); null if none
//   error        the error message; null if none
//   snapshot_id  the snapshot saved or concerned (64 hex); null if none
//   figures      object of run figures (files, bytes_added, duration_s, ...); null if none
//   summary      one human line, e.g. "kho: backup of portal failed: ..."
//   text         the summary again, so chat webhooks (Slack, Mattermost,
//                Rocket.Chat) show it without an adapter
//
// Secrets: the message goes to a command on stdin, never in its argv. Error
// messages show a webhook URL without its password and query, and a command by
// its program name only (its arguments may hold tokens).
//
// Every function here blocks (up to its timeouts and retries) and is safe to
// call from several threads at once.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "kho/orchestrate/policy.hpp"
#include "kho/util/error.hpp"
#include "kho/util/time.hpp"

namespace kho::orchestrate {

struct NotifyMessage {
  NotifyEvent event = NotifyEvent::failure;
  std::string policy;
  std::string host;
  TimeNs time = 0;
  std::string kind;  // backup | check | prune | copy | restore | drill | ...
  std::string stage;
  std::string error;
  std::string snapshot_id;
  nlohmann::ordered_json figures;  // an object, or null
  std::string summary;             // one human line
};

// The message as described at the top of this file.
nlohmann::ordered_json to_json(const NotifyMessage& message);

struct WebhookOptions {
  std::chrono::milliseconds timeout{10'000};        // per attempt: connecting and the whole exchange
  int attempts = 4;                                 // in all, at least 1
  std::chrono::milliseconds first_delay{1'000};     // before the first retry, doubled before each next
};

// POSTs `body` as JSON (Content-Type: application/json, User-Agent: kho/VERSION)
// to an http(s) URL; any 2xx answer is success. Connection failures, timeouts,
// 429 and 5xx are retried with backoff; other statuses (3xx: redirects are not
// followed; 4xx) fail at once. Fails with Errc::invalid_argument for an empty
// URL or another scheme, Errc::timeout when the last attempt timed out,
// Errc::io (transient) for connection failures and 429/5xx, Errc::failed for
// other statuses; the message names the redacted URL, the HTTP status and the
// number of attempts.
[[nodiscard]] Status send_webhook(const std::string& url, const nlohmann::ordered_json& body,
                                  const WebhookOptions& options = {});

struct CommandOptions {
  std::chrono::milliseconds timeout{60'000};
  std::chrono::milliseconds kill_grace{2'000};  // after SIGTERM to the process group, before SIGKILL
};

// Runs `command` (sh -c for a shell string, the program itself for a list,
// found on PATH) in a process group of its own, with `body` (dumped JSON) on
// stdin, stdout discarded, stderr captured, and the environment of kho without
// its KHO_* variables (which may hold a repository password) plus KHO_EVENT,
// KHO_POLICY and KHO_SUMMARY taken from `body`. Success is exit status 0.
// Fails with Errc::io when it cannot start, Errc::failed when it exits non-zero
// or is killed (with the first line of its stderr), Errc::timeout when it runs
// longer than the timeout: the whole process group is then sent SIGTERM, and
// SIGKILL after kill_grace. Background processes it leaves behind after a
// successful exit are not waited for.
[[nodiscard]] Status run_notify_command(const Command& command, const nlohmann::ordered_json& body,
                                        const CommandOptions& options = {});

// Sends `message` to the webhook and/or runs the command of `notify`, but only
// when message.event is in notify.on (otherwise does nothing and succeeds).
// Both are tried even when one fails; fails with Errc::failed naming the
// policy, the event and each channel that failed with its error.
[[nodiscard]] Status notify(const Notify& notify, const NotifyMessage& message,
                            const WebhookOptions& webhook_options = {},
                            const CommandOptions& command_options = {});

}  // namespace kho::orchestrate
