// Rendering of the readiness report: text, Markdown, JSON and one
// self-contained HTML page (inline CSS and SVG, no script, no network). Every
// user-facing word comes from k_texts; one renderer per format serves every
// language.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "kho/orchestrate/report.hpp"
#include "kho/util/json.hpp"

namespace kho::orchestrate {

namespace {

struct Text {
  const char* key;
  const char* en;
  const char* vi;
};

// The translation table. Reason and action texts use {name} placeholders
// filled from their params ({policy} and {command} always available).
constexpr Text k_texts[] = {
    {"title", "Incident-readiness report", "Báo cáo mức độ sẵn sàng ứng phó sự cố"},
    {"generated", "Generated", "Thời điểm lập"},
    {"host_note", "Built from the policies, the runbooks and the state database; no repository was opened.",
     "Lập từ các chính sách, kịch bản khôi phục và cơ sở dữ liệu trạng thái; không mở kho lưu trữ nào."},
    {"overall", "Overall verdict", "Đánh giá chung"},
    {"verdict.ready", "READY", "Sẵn sàng"},
    {"verdict.at_risk", "AT RISK", "Có rủi ro"},
    {"verdict.not_ready", "NOT READY", "Chưa sẵn sàng"},
    {"summary", "Summary", "Tóm tắt"},
    {"reasons", "Reasons", "Lý do"},
    {"no_reasons", "No problem found.", "Không phát hiện vấn đề nào."},
    {"actions", "Next actions", "Việc cần làm tiếp theo"},
    {"no_actions", "Nothing to do.", "Không có việc cần làm."},
    {"no_policies", "No policy found.", "Không tìm thấy chính sách nào."},
    {"details", "Details per system", "Chi tiết từng hệ thống"},
    {"charts", "Charts", "Biểu đồ"},
    {"col.system", "SYSTEM", "HỆ THỐNG"},
    {"col.verdict", "VERDICT", "ĐÁNH GIÁ"},
    {"col.newest", "NEWEST BACKUP", "BẢN SAO LƯU MỚI NHẤT"},
    {"col.rpo", "RPO", "RPO"},
    {"col.check", "INTEGRITY CHECK", "KIỂM TRA TOÀN VẸN"},
    {"col.drill", "RECOVERY DRILL", "DIỄN TẬP KHÔI PHỤC"},
    {"col.copies", "COPIES", "BẢN SAO"},
    {"col.anomaly", "RANSOMWARE SIGNS", "DẤU HIỆU MÃ ĐỘC"},
    {"col.failures", "FAILURES (7d)", "LỖI (7 NGÀY)"},
    {"newest", "Newest backup", "Bản sao lưu mới nhất"},
    {"rpo", "Recovery point objective (RPO)", "Mục tiêu điểm khôi phục (RPO)"},
    {"rto", "Recovery time objective (RTO)", "Mục tiêu thời gian khôi phục (RTO)"},
    {"check", "Integrity check", "Kiểm tra toàn vẹn"},
    {"drill", "Recovery drill", "Diễn tập khôi phục"},
    {"copies", "Copies", "Các bản sao"},
    {"anomaly", "Ransomware signs", "Dấu hiệu mã độc tống tiền"},
    {"failures", "Failures in the last 7 days", "Lỗi trong 7 ngày qua"},
    {"description", "Description", "Mô tả"},
    {"never", "never", "chưa có"},
    {"none", "none", "không có"},
    {"ago", "{age} ago", "{age} trước"},
    {"rpo.OK", "OK", "Đạt"},
    {"rpo.LATE", "LATE", "Trễ"},
    {"rpo.NONE", "NO BACKUP", "Chưa sao lưu"},
    {"rpo.unset", "not set", "chưa đặt"},
    {"structure_only", "structure only", "chỉ cấu trúc"},
    {"read", "{size} read", "đã đọc {size}"},
    {"check_status", "last check: {status}", "lần kiểm tra gần nhất: {status}"},
    {"verified", "VERIFIED", "ĐÃ KIỂM CHỨNG"},
    {"needs_drill", "NEEDS DRILL", "CẦN DIỄN TẬP"},
    {"no_runbook", "no runbook", "chưa có kịch bản"},
    {"result.passed", "passed", "đạt"},
    {"result.failed", "failed", "không đạt"},
    {"result.interrupted", "interrupted", "bị gián đoạn"},
    {"result.running", "running", "đang chạy"},
    {"result.never", "never drilled", "chưa diễn tập"},
    {"rto_of", "RTO {rto} of {target}", "RTO {rto} / mục tiêu {target}"},
    {"rto_measured", "RTO {rto}", "RTO {rto}"},
    {"rto_met", "met", "đạt"},
    {"rto_not_met", "MISSED", "VƯỢT"},
    {"kind.offline", "Offline copy", "Bản sao ngoại tuyến"},
    {"kind.offsite", "Offsite copy", "Bản sao ở địa điểm khác"},
    {"kind.", "Copy", "Bản sao"},
    {"kind_short.offline", "offline", "ngoại tuyến"},
    {"kind_short.offsite", "offsite", "địa điểm khác"},
    {"kind_short.", "copy", "bản sao"},
    {"append_only", "Append-only", "Chỉ ghi thêm (append-only)"},
    {"append_only_short", "append-only", "chỉ ghi thêm"},
    {"anomaly.flagged", "FLAGGED", "BỊ GẮN CỜ"},
    {"anomaly.clean", "clean", "bình thường"},
    {"anomaly.off", "scoring off", "đã tắt chấm điểm"},
    {"anomaly.unknown", "not recorded", "chưa ghi nhận"},
    {"score", "score {score} (threshold {threshold})", "điểm {score} (ngưỡng {threshold})"},
    {"failure", "{kind} at {stage}: {error}", "{kind} tại {stage}: {error}"},
    {"kind_run.backup", "backup", "sao lưu"},
    {"kind_run.check", "check", "kiểm tra"},
    {"kind_run.prune", "prune", "dọn dẹp"},
    {"kind_run.copy", "copy", "sao chép"},
    {"kind_run.restore", "restore", "khôi phục"},
    {"kind_run.drill", "drill", "diễn tập"},
    {"kind_run.forget", "forget", "xoá theo lịch giữ"},
    {"chart.age", "Age of the newest backup against the RPO", "Tuổi của bản sao lưu mới nhất so với RPO"},
    {"chart.age_note", "Bar: age as a multiple of the RPO. Lines: RPO and 2× RPO.",
     "Thanh: tuổi tính theo bội số của RPO. Đường kẻ: RPO và 2× RPO."},
    {"chart.size", "Repository size over time", "Dung lượng kho lưu trữ theo thời gian"},
    {"chart.size_note",
     "Cumulative data added by successful backups (stored bytes after deduplication and compression; space freed "
     "by prune is not subtracted).",
     "Tổng cộng dồn dữ liệu được thêm bởi các lần sao lưu thành công (dung lượng lưu sau khi khử trùng lặp và nén; "
     "không trừ phần được giải phóng khi dọn dẹp)."},
    {"chart.rto", "Drill RTO against the target", "RTO đo được khi diễn tập so với mục tiêu"},
    {"chart.rto_note", "Dots: measured RTO of each drill (hollow: failed). Dashed: the RTO target.",
     "Chấm: RTO đo được của mỗi lần diễn tập (rỗng: không đạt). Nét đứt: mục tiêu RTO."},
    {"chart.anomaly", "Anomaly score over time", "Điểm bất thường theo thời gian"},
    {"chart.anomaly_note", "Dashed: the threshold at which a snapshot is flagged as suspicious.",
     "Nét đứt: ngưỡng mà bản sao lưu bị gắn cờ nghi ngờ."},
    {"chart.no_data", "No data yet.", "Chưa có dữ liệu."},
    {"chart.no_rpo", "no RPO set", "chưa đặt RPO"},
    {"chart.threshold", "threshold", "ngưỡng"},
    {"chart.target", "target", "mục tiêu"},
    // Reasons.
    {"reason.no_backup", "no successful backup", "chưa có bản sao lưu thành công nào"},
    {"reason.snapshot_flagged", "the newest snapshot {snapshot} is flagged as suspicious (anomaly score {score})",
     "bản sao lưu mới nhất {snapshot} bị gắn cờ nghi có dấu hiệu mã độc tống tiền (điểm bất thường {score})"},
    {"reason.rpo_missed", "the newest backup is {age} old, more than {factor}× the RPO of {rpo}",
     "bản sao lưu mới nhất đã cũ {age}, quá {factor} lần RPO ({rpo})"},
    {"reason.rpo_late", "the newest backup is {age} old, over the RPO of {rpo}",
     "bản sao lưu mới nhất đã cũ {age}, vượt RPO ({rpo})"},
    {"reason.no_check", "no successful integrity check", "chưa có lần kiểm tra toàn vẹn nào thành công"},
    {"reason.check_old", "the last successful integrity check was {age} ago (more than {limit})",
     "lần kiểm tra toàn vẹn thành công gần nhất cách đây {age} (quá {limit})"},
    {"reason.no_runbook", "no restore runbook: recovery is not rehearsed",
     "chưa có kịch bản khôi phục: việc khôi phục chưa được diễn tập"},
    {"reason.drill_never", "runbook {runbook} was never drilled", "kịch bản {runbook} chưa từng được diễn tập"},
    {"reason.drill_failed", "the last drill of {runbook} ({age} ago) did not pass",
     "lần diễn tập gần nhất của {runbook} ({age} trước) không đạt"},
    {"reason.drill_old", "the last drill of {runbook} passed {age} ago (more than {limit})",
     "lần diễn tập đạt gần nhất của {runbook} cách đây {age} (quá {limit})"},
    {"reason.rto_missed", "the last drill of {runbook} took {rto}, over the RTO of {target}",
     "lần diễn tập gần nhất của {runbook} mất {rto}, vượt RTO ({target})"},
    {"reason.copy_never", "copy {destination} was never made", "bản sao {destination} chưa từng được tạo"},
    {"reason.copy_old", "copy {destination} is {age} old (more than {limit})",
     "bản sao {destination} đã cũ {age} (quá {limit})"},
    {"reason.no_separate_copy", "no offline or offsite copy",
     "không có bản sao ngoại tuyến hay bản sao ở địa điểm khác"},
    {"reason.no_append_only", "no append-only copy: ransomware holding the password could delete every copy",
     "không có bản sao chỉ ghi thêm (append-only): mã độc tống tiền chiếm được mật khẩu có thể xoá mọi bản sao"},
    {"reason.failures", "{count} failed run(s) in the last {window}", "{count} lần chạy thất bại trong {window} qua"},
    // Actions.
    {"action.run_backup", "Back up now: {command}", "Sao lưu ngay: {command}"},
    {"action.check_scheduler", "Check that the scheduler runs (systemctl status kho-scheduler), then: {command}",
     "Kiểm tra bộ lập lịch có đang chạy (systemctl status kho-scheduler), sau đó: {command}"},
    {"action.investigate_flagged",
     "Examine snapshot {snapshot} before trusting it (compare it with kho diff; recover with snapshot: latest-clean): "
     "{command}",
     "Xem xét bản sao lưu {snapshot} trước khi tin dùng (so sánh bằng kho diff; khôi phục với snapshot: latest-clean): "
     "{command}"},
    {"action.run_check",
     "Check the repository's integrity now: {command} (and let the scheduler do it: check.schedule)",
     "Kiểm tra toàn vẹn kho lưu trữ ngay: {command} (và để bộ lập lịch làm định kỳ theo check.schedule)"},
    {"action.schedule_check",
     "Add check: {schedule: \"0 3 * * 0\", read_data_subset: 10%} to policy {policy} so it is checked every week",
     "Thêm check: {schedule: \"0 3 * * 0\", read_data_subset: 10%} vào chính sách {policy} để kiểm tra hằng tuần"},
    {"action.write_runbook", "Write a restore runbook for policy {policy} (docs/RUNBOOKS.md), then drill it",
     "Viết kịch bản khôi phục cho chính sách {policy} (docs/RUNBOOKS.md), rồi diễn tập"},
    {"action.run_drill", "Run a recovery drill: {command}", "Diễn tập khôi phục: {command}"},
    {"action.speed_up_recovery", "Make the recovery of {runbook} faster, or review its RTO target with the owner",
     "Rút ngắn thời gian khôi phục của {runbook}, hoặc xem lại mục tiêu RTO với đơn vị phụ trách"},
    {"action.connect_offline_copy", "Connect the offline disk of {destination}, run {command}, then disconnect it",
     "Kết nối ổ đĩa ngoại tuyến {destination}, chạy {command}, rồi ngắt kết nối"},
    {"action.add_offline_copy",
     "Add an offline copy (kind: offline) or an offsite copy (kind: offsite) to copy_to of policy {policy}",
     "Thêm bản sao ngoại tuyến (kind: offline) hoặc bản sao ở địa điểm khác (kind: offsite) vào copy_to của chính "
     "sách {policy}"},
    {"action.add_append_only_copy",
     "Add an append-only copy (rest-server --append-only; append_only: true) to copy_to of policy {policy}",
     "Thêm bản sao chỉ ghi thêm (rest-server --append-only; append_only: true) vào copy_to của chính sách {policy}"},
    {"action.review_failures", "Review the failed runs and fix their cause: {command}",
     "Xem lại các lần chạy thất bại và khắc phục nguyên nhân: {command}"},
};

const Text* find_text(std::string_view key) {
  for (const auto& t : k_texts)
    if (key == t.key) return &t;
  return nullptr;
}

std::string tr(ReportLang lang, std::string_view key) {
  const Text* t = find_text(key);
  if (!t) return std::string(key);
  return lang == ReportLang::vi ? t->vi : t->en;
}

// Replaces each {name} that names a param; other braces are left as written.
std::string fill(std::string_view text, const ReportParams& params) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      std::size_t end = text.find('}', i);
      if (end != std::string_view::npos) {
        std::string_view name = text.substr(i + 1, end - i - 1);
        auto it = std::find_if(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
        if (it != params.end()) {
          out += it->second;
          i = end + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

std::string tr(ReportLang lang, std::string_view key, const ReportParams& params) {
  return fill(tr(lang, key), params);
}

std::string verdict_text(Verdict v, ReportLang lang) { return tr(lang, "verdict." + std::string(to_string(v))); }

std::string ago(std::optional<double> age_s, ReportLang lang) {
  if (!age_s) return tr(lang, "never");
  return tr(lang, "ago", {{"age", format_duration(*age_s)}});
}

// --- the cells shared by the text, Markdown and HTML renderers ---

struct Cells {
  std::string newest;
  std::string rpo;
  std::string check;
  std::string drill;
  std::string copies;
  std::string anomaly;
  std::string failures;
};

std::string rpo_cell(const SnapshotState& s, ReportLang lang) {
  if (s.rpo_status.empty()) return tr(lang, "rpo.unset");
  return tr(lang, "rpo." + s.rpo_status) + " (" + format_duration(*s.rpo_s) + ")";
}

std::string check_cell(const CheckState& c, ReportLang lang) {
  if (!c.at) {
    if (c.status.empty()) return tr(lang, "never");
    return tr(lang, "check_status", {{"status", c.status}});
  }
  std::string out = ago(c.age_s, lang) + ", ";
  if (c.bytes_read && *c.bytes_read > 0)
    out += tr(lang, "read", {{"size", format_size(*c.bytes_read)}});
  else
    out += tr(lang, "structure_only");
  return out;
}

std::string drill_line(const DrillState& d, ReportLang lang, bool with_name) {
  std::string out = with_name ? d.runbook + ": " : "";
  out += tr(lang, d.verified ? "verified" : "needs_drill");
  if (d.last_at) out += ", " + tr(lang, "result." + d.result);
  if (d.rto_s) {
    if (d.rto_target_s)
      out +=
          ", " + tr(lang, "rto_of", {{"rto", format_duration(*d.rto_s)}, {"target", format_duration(*d.rto_target_s)}});
    else
      out += ", " + tr(lang, "rto_measured", {{"rto", format_duration(*d.rto_s)}});
  }
  return out;
}

std::string copy_line(const CopyState& c, ReportLang lang) {
  std::string out = tr(lang, "kind_short." + c.kind) + " " + (c.age_s ? format_duration(*c.age_s) : tr(lang, "never"));
  if (c.append_only) out += " (" + tr(lang, "append_only_short") + ")";
  return out;
}

std::string anomaly_cell(const AnomalyState& a, ReportLang lang) {
  if (!a.enabled) return tr(lang, "anomaly.off");
  if (!a.score) return a.flagged ? tr(lang, "anomaly.flagged") : tr(lang, "anomaly.unknown");
  return tr(lang, a.flagged ? "anomaly.flagged" : "anomaly.clean") + " " + fmt::format("{:.2f}", *a.score);
}

Cells cells(const PolicyReadiness& p, ReportLang lang) {
  Cells c;
  c.newest = p.snapshot.age_s ? format_duration(*p.snapshot.age_s) : tr(lang, "never");
  c.rpo = rpo_cell(p.snapshot, lang);
  c.check = check_cell(p.check, lang);
  for (const auto& d : p.drills) c.drill += (c.drill.empty() ? "" : "; ") + drill_line(d, lang, true);
  if (p.drills.empty()) c.drill = tr(lang, "no_runbook");
  for (const auto& cp : p.copies) c.copies += (c.copies.empty() ? "" : "; ") + copy_line(cp, lang);
  if (p.copies.empty()) c.copies = tr(lang, "none");
  c.anomaly = anomaly_cell(p.anomaly, lang);
  c.failures = std::to_string(p.failures.size());
  return c;
}

std::string failure_line(const FailureState& f, ReportLang lang) {
  return format_local(f.at) + " " +
         tr(lang, "failure",
            {{"kind", tr(lang, "kind_run." + f.kind)},
             {"stage", f.stage.empty() ? "-" : f.stage},
             {"error", f.error.empty() ? "-" : f.error}});
}

ReportParams with_context(const ReportParams& params, const std::string& policy, const std::string& command) {
  ReportParams all = params;
  all.emplace_back("policy", policy);
  all.emplace_back("command", command);
  return all;
}

// --- text ---

// Columns a UTF-8 string takes on a terminal (combining marks take none).
std::size_t display_width(std::string_view s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    std::uint32_t cp = c;
    if (len == 2 && i + 1 < s.size()) cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
    if (!(cp >= 0x300 && cp <= 0x36F)) ++w;
    i += len;
  }
  return w;
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& r : rows) {
    widths.resize(std::max(widths.size(), r.size()), 0);
    for (std::size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], display_width(r[i]));
  }
  std::string out;
  for (std::size_t n = 0; n < rows.size(); ++n) {
    std::string line;
    for (std::size_t i = 0; i < rows[n].size(); ++i) {
      line += rows[n][i];
      if (i + 1 < rows[n].size()) line += std::string(widths[i] - display_width(rows[n][i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (n == 0) {
      std::size_t total = 0;
      for (auto w : widths) total += w + 2;
      out += std::string(total > 2 ? total - 2 : 0, '-') + "\n";
    }
  }
  return out;
}

std::vector<std::string> header_row(ReportLang lang) {
  return {tr(lang, "col.system"), tr(lang, "col.verdict"), tr(lang, "col.newest"),
          tr(lang, "col.rpo"),    tr(lang, "col.check"),   tr(lang, "col.drill"),
          tr(lang, "col.copies"), tr(lang, "col.anomaly"), tr(lang, "col.failures")};
}

std::vector<std::string> policy_row(const PolicyReadiness& p, ReportLang lang) {
  Cells c = cells(p, lang);
  return {p.name, verdict_text(p.verdict, lang), c.newest, c.rpo, c.check, c.drill, c.copies, c.anomaly, c.failures};
}

std::string render_text(const ReadinessReport& r, ReportLang lang) {
  std::string out = tr(lang, "title") + "\n";
  out += tr(lang, "generated") + ": " + format_local(r.generated_at) + "\n";
  out += tr(lang, "overall") + ": " + verdict_text(r.verdict, lang) + "\n\n";
  if (r.policies.empty())
    out += tr(lang, "no_policies") + "\n";
  else {
    std::vector<std::vector<std::string>> rows = {header_row(lang)};
    for (const auto& p : r.policies) rows.push_back(policy_row(p, lang));
    out += table(rows);
  }
  out += "\n" + tr(lang, "reasons") + ":\n";
  if (r.reasons.empty()) out += "  " + tr(lang, "no_reasons") + "\n";
  for (const auto& x : r.reasons)
    out += "  [" + verdict_text(x.severity, lang) + "] " + x.policy + ": " + reason_text(x, lang) + "\n";
  out += "\n" + tr(lang, "actions") + ":\n";
  if (r.actions.empty()) out += "  " + tr(lang, "no_actions") + "\n";
  int n = 0;
  for (const auto& a : r.actions) out += fmt::format("  {}. {}: {}\n", ++n, a.policy, action_text(a, lang));
  return out;
}

// --- Markdown ---

std::string md_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|' || c == '*' || c == '_' || c == '`' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

// An action with its command as code.
std::string action_md(const Action& a, ReportLang lang) {
  std::string key = "action." + a.code;
  std::string text = tr(lang, key);
  std::string out;
  // Split around {command} so the command alone is code.
  auto pos = text.find("{command}");
  ReportParams params = with_context(a.params, a.policy, "");
  if (pos == std::string::npos || a.command.empty()) return md_escape(fill(text, params));
  return md_escape(fill(text.substr(0, pos), params)) + "`" + a.command + "`" +
         md_escape(fill(text.substr(pos + 9), params));
}

std::string render_md(const ReadinessReport& r, ReportLang lang) {
  std::string out = "# " + tr(lang, "title") + "\n\n";
  out += "- **" + tr(lang, "generated") + "**: " + format_local(r.generated_at) + "\n";
  out += "- **" + tr(lang, "overall") + "**: **" + verdict_text(r.verdict, lang) + "**\n\n";
  out += "_" + tr(lang, "host_note") + "_\n\n";
  out += "## " + tr(lang, "summary") + "\n\n";
  if (r.policies.empty())
    out += tr(lang, "no_policies") + "\n\n";
  else {
    auto head = header_row(lang);
    out += "|";
    for (const auto& h : head) out += " " + md_escape(h) + " |";
    out += "\n|";
    for (std::size_t i = 0; i < head.size(); ++i) out += "---|";
    out += "\n";
    for (const auto& p : r.policies) {
      out += "|";
      for (const auto& c : policy_row(p, lang)) out += " " + md_escape(c) + " |";
      out += "\n";
    }
    out += "\n";
  }
  out += "## " + tr(lang, "reasons") + "\n\n";
  if (r.reasons.empty()) out += tr(lang, "no_reasons") + "\n";
  for (const auto& x : r.reasons)
    out += "- **" + verdict_text(x.severity, lang) + "** " + md_escape(x.policy) + ": " +
           md_escape(reason_text(x, lang)) + "\n";
  out += "\n## " + tr(lang, "actions") + "\n\n";
  if (r.actions.empty()) out += tr(lang, "no_actions") + "\n";
  int n = 0;
  for (const auto& a : r.actions) out += fmt::format("{}. {}: {}\n", ++n, md_escape(a.policy), action_md(a, lang));
  out += "\n## " + tr(lang, "details") + "\n";
  for (const auto& p : r.policies) {
    out += "\n### " + md_escape(p.name) + " — " + verdict_text(p.verdict, lang) + "\n\n";
    if (!p.description.empty()) out += "- " + tr(lang, "description") + ": " + md_escape(p.description) + "\n";
    out += "- " + tr(lang, "newest") + ": " +
           (p.snapshot.at ? format_local(*p.snapshot.at) + " (" + ago(p.snapshot.age_s, lang) + ")" +
                                (p.snapshot.id ? ", `" + p.snapshot.id->substr(0, 8) + "`" : "")
                          : tr(lang, "never")) +
           "\n";
    out += "- " + tr(lang, "rpo") + ": " + md_escape(rpo_cell(p.snapshot, lang)) + "\n";
    out += "- " + tr(lang, "check") + ": " + md_escape(check_cell(p.check, lang)) + "\n";
    if (p.drills.empty()) out += "- " + tr(lang, "drill") + ": " + tr(lang, "no_runbook") + "\n";
    for (const auto& d : p.drills) out += "- " + tr(lang, "drill") + ": " + md_escape(drill_line(d, lang, true)) + "\n";
    if (p.copies.empty()) out += "- " + tr(lang, "copies") + ": " + tr(lang, "none") + "\n";
    for (const auto& c : p.copies)
      out += "- " + tr(lang, "kind." + c.kind) + " `" + c.destination +
             "`: " + (c.age_s ? ago(c.age_s, lang) : tr(lang, "never")) +
             (c.append_only ? ", " + tr(lang, "append_only") : std::string()) + "\n";
    out += "- " + tr(lang, "anomaly") + ": " + md_escape(anomaly_cell(p.anomaly, lang)) + "\n";
    out += "- " + tr(lang, "failures") + ": " + (p.failures.empty() ? tr(lang, "none") : "") + "\n";
    for (const auto& f : p.failures) out += "  - " + md_escape(failure_line(f, lang)) + "\n";
  }
  return out;
}

// --- JSON ---

nlohmann::ordered_json opt(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}
nlohmann::ordered_json opt(const std::optional<std::uint64_t>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}
nlohmann::ordered_json opt(const std::optional<std::string>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}
nlohmann::ordered_json opt_time(const std::optional<TimeNs>& v) {
  return v ? nlohmann::ordered_json(format_rfc3339(*v)) : nlohmann::ordered_json();
}

nlohmann::ordered_json reason_json(const Reason& x, ReportLang lang) {
  return {{"policy", x.policy},
          {"code", x.code},
          {"severity", std::string(to_string(x.severity))},
          {"text", reason_text(x, lang)}};
}

nlohmann::ordered_json action_json(const Action& a, ReportLang lang) {
  return {{"policy", a.policy},
          {"code", a.code},
          {"command", a.command.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(a.command)},
          {"text", action_text(a, lang)}};
}

// --- HTML ---

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

constexpr const char* k_palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
const char* color(std::size_t i) { return k_palette[i % (sizeof(k_palette) / sizeof(k_palette[0]))]; }

std::string verdict_class(Verdict v) {
  return v == Verdict::ready ? "ready" : v == Verdict::at_risk ? "risk" : "notready";
}

std::string svg_open(const std::string& title, int height, const std::string& note) {
  return fmt::format(
      "<svg class=\"chart\" role=\"img\" aria-label=\"{0}\" viewBox=\"0 0 720 {1}\" "
      "preserveAspectRatio=\"xMinYMin meet\"><title>{0}</title><desc>{2}</desc>\n",
      esc(title), height, esc(note));
}

std::string num(double v) { return fmt::format("{:.1f}", v); }

// Chart 1: horizontal bars of age / RPO per policy.
std::string chart_age(const ReadinessReport& r, ReportLang lang) {
  const std::string title = tr(lang, "chart.age");
  const int row = 30, top = 30, left = 150, width = 520;
  const int height = top + static_cast<int>(std::max<std::size_t>(r.policies.size(), 1)) * row + 30;
  double scale = 3;
  for (const auto& p : r.policies)
    if (p.snapshot.age_s && p.snapshot.rpo_s && *p.snapshot.rpo_s > 0)
      scale = std::max(scale, std::min(6.0, std::ceil(*p.snapshot.age_s / *p.snapshot.rpo_s)));
  auto x = [&](double ratio) { return left + std::min(ratio, scale) / scale * width; };
  std::string s = svg_open(title, height, tr(lang, "chart.age_note"));
  if (r.policies.empty())
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"muted\">{}</text>\n", left, top + 18,
                     esc(tr(lang, "chart.no_data")));
  for (std::size_t i = 0; i < r.policies.size(); ++i) {
    const auto& p = r.policies[i];
    const double y = top + static_cast<double>(i) * row;
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", left - 8, num(y + 19), esc(p.name));
    if (!p.snapshot.age_s || !p.snapshot.rpo_s || *p.snapshot.rpo_s <= 0) {
      const std::string why = !p.snapshot.age_s ? tr(lang, "rpo.NONE") : tr(lang, "chart.no_rpo");
      s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"{}\">{}</text>\n", left + 4, num(y + 19),
                       !p.snapshot.age_s ? "bad" : "muted", esc(why));
      continue;
    }
    const double ratio = *p.snapshot.age_s / *p.snapshot.rpo_s;
    const char* fill_color = ratio <= 1 ? "#2e7d32" : ratio <= 2 ? "#ef6c00" : "#c62828";
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"18\" fill=\"{}\"/>\n", left, num(y + 6),
                     num(std::max(1.0, x(ratio) - left)), fill_color);
    const std::string label = format_duration(*p.snapshot.age_s) + " / " + format_duration(*p.snapshot.rpo_s);
    const bool inside = x(ratio) - left > 140;
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" class=\"{}\">{}</text>\n",
                     num(inside ? x(ratio) - 4 : x(ratio) + 4), num(y + 19), inside ? "end" : "start",
                     inside ? "onbar" : "", esc(label));
  }
  const double bottom = height - 24;
  for (double m : {1.0, 2.0}) {
    s += fmt::format(
        "<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#c62828\" stroke-width=\"1.5\"{3}/>\n"
        "<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" class=\"axis\" dy=\"-6\">{4}</text>\n",
        num(x(m)), top - 4, num(bottom), m > 1 ? " stroke-dasharray=\"5 4\"" : "", m > 1 ? "2× RPO" : "RPO");
  }
  s += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#555\"/>\n", left, top - 4, num(bottom));
  s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\">0</text>", left - 3, num(bottom + 14));
  s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\" text-anchor=\"end\">{}× RPO</text>\n", left + width,
                   num(bottom + 14), num(scale).substr(0, num(scale).find('.')));
  return s + "</svg>\n";
}

struct Series {
  std::string name;
  std::vector<std::pair<TimeNs, double>> points;
  std::vector<bool> hollow;     // per point (failed drills)
  std::optional<double> level;  // a dashed horizontal line (target, threshold)
  std::string level_label;
  bool lines = true;
};

// Charts 2 to 4: values over time, one colour per series.
std::string chart_time(const std::string& title, const std::string& note, const std::vector<Series>& series,
                       const std::function<std::string(double)>& y_label, double y_min_max, ReportLang lang) {
  const int left = 90, right = 700, top = 20, bottom = 220, height = 290;
  std::string s = svg_open(title, height, note);
  TimeNs t0 = 0, t1 = 0;
  double ymax = y_min_max;
  bool any = false;
  for (const auto& se : series) {
    for (const auto& [t, v] : se.points) {
      t0 = any ? std::min(t0, t) : t;
      t1 = any ? std::max(t1, t) : t;
      ymax = std::max(ymax, v);
      any = true;
    }
    if (se.level) ymax = std::max(ymax, *se.level);
  }
  if (!any) {
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"muted\">{}</text>\n", left, top + 40,
                     esc(tr(lang, "chart.no_data")));
    return s + "</svg>\n";
  }
  ymax = ymax <= 0 ? 1 : ymax * 1.1;
  if (t1 == t0) {
    t0 -= 3600LL * 1'000'000'000;
    t1 += 3600LL * 1'000'000'000;
  }
  auto x = [&](TimeNs t) { return left + static_cast<double>(t - t0) / static_cast<double>(t1 - t0) * (right - left); };
  auto y = [&](double v) { return bottom - v / ymax * (bottom - top); };
  // Axes and grid.
  for (int i = 0; i <= 4; ++i) {
    const double v = ymax * i / 4;
    s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#ddd\"/>\n", left, right, num(y(v)));
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"axis\">{}</text>\n", left - 6, num(y(v) + 4),
                     esc(y_label(v)));
  }
  s += fmt::format("<line x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\" stroke=\"#555\"/>\n", left, top, bottom);
  s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#555\"/>\n", left, right, bottom);
  s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"axis\">{}</text>\n", left, bottom + 16,
                   esc(format_local(t0).substr(0, 16)));
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" class=\"axis\">{}</text>\n", right, bottom + 16,
                   esc(format_local(t1).substr(0, 16)));
  std::set<std::string> levels_drawn;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& se = series[i];
    const char* c = color(i);
    if (se.level) {
      const std::string key = num(*se.level) + se.level_label;
      const bool shared = se.level_label == tr(lang, "chart.threshold");
      if (!shared || levels_drawn.insert(key).second) {
        const char* lc = shared ? "#c62828" : c;
        s += fmt::format(
            "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"1.5\" "
            "stroke-dasharray=\"6 4\"/>\n<text x=\"{1}\" y=\"{4}\" text-anchor=\"end\" class=\"axis\" "
            "fill=\"{3}\">{5}</text>\n",
            left, right, num(y(*se.level)), lc, num(y(*se.level) - 4), esc(se.level_label));
      }
    }
    if (se.lines && se.points.size() > 1) {
      std::string pts;
      for (const auto& [t, v] : se.points) pts += num(x(t)) + "," + num(y(v)) + " ";
      s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", pts, c);
    }
    for (std::size_t k = 0; k < se.points.size(); ++k) {
      const bool hollow = k < se.hollow.size() && se.hollow[k];
      s += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                       num(x(se.points[k].first)), num(y(se.points[k].second)), se.lines ? 2.5 : 4.5,
                       hollow ? "white" : c, hollow ? "#c62828" : c);
    }
    // Legend.
    const int lx = left + static_cast<int>(i % 4) * 150, ly = bottom + 36 + static_cast<int>(i / 4) * 16;
    s += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" "
        "class=\"axis\">{}</text>\n",
        lx, ly - 10, c, lx + 16, ly, esc(se.name));
  }
  return s + "</svg>\n";
}

std::string size_label(double v) { return format_size(static_cast<std::uint64_t>(v)); }

std::string html_charts(const ReadinessReport& r, ReportLang lang) {
  std::string out;
  auto figure = [&](const std::string& key, const std::string& svg) {
    out += "<figure>\n<figcaption>" + esc(tr(lang, key)) + "</figcaption>\n" + svg + "<p class=\"note\">" +
           esc(tr(lang, key + "_note")) + "</p>\n</figure>\n";
  };
  figure("chart.age", chart_age(r, lang));

  std::vector<Series> size, anomaly, rto;
  for (const auto& p : r.policies) {
    Series s{p.name, {}, {}, std::nullopt, "", true};
    Series a{p.name, {}, {}, p.anomaly.threshold, tr(lang, "chart.threshold"), true};
    for (const auto& b : p.backups) {
      s.points.emplace_back(b.at, static_cast<double>(b.repository_bytes));
      if (b.anomaly_score) a.points.emplace_back(b.at, *b.anomaly_score);
    }
    size.push_back(std::move(s));
    if (!a.points.empty()) anomaly.push_back(std::move(a));
    std::map<std::string, std::size_t> by_runbook;
    for (const auto& d : p.drill_history) {
      if (!d.rto_s) continue;
      auto [it, added] = by_runbook.emplace(d.runbook, rto.size());
      if (added) rto.push_back({d.runbook, {}, {}, std::nullopt, "", false});
      Series& se = rto[it->second];
      se.points.emplace_back(d.at, *d.rto_s);
      se.hollow.push_back(d.result != "passed");
      if (d.rto_target_s) {
        se.level = d.rto_target_s;
        se.level_label = d.runbook + " " + tr(lang, "chart.target") + " " + format_duration(*d.rto_target_s);
      }
    }
  }
  figure("chart.size", chart_time(tr(lang, "chart.size"), tr(lang, "chart.size_note"), size, size_label, 1024, lang));
  figure("chart.rto", chart_time(
                          tr(lang, "chart.rto"), tr(lang, "chart.rto_note"), rto,
                          [](double v) { return format_duration(v); }, 60, lang));
  figure("chart.anomaly", chart_time(
                              tr(lang, "chart.anomaly"), tr(lang, "chart.anomaly_note"), anomaly,
                              [](double v) { return fmt::format("{:.2f}", v); }, 1.0, lang));
  return out;
}

constexpr const char* k_css = R"(
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10.5pt; color: #222;
       margin: 0 auto; max-width: 186mm; padding: 6mm 0; line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 2mm; }
h2 { font-size: 13pt; border-bottom: 1px solid #999; padding-bottom: 1mm; margin-top: 6mm; }
h3 { font-size: 11.5pt; margin: 4mm 0 1mm; }
.meta { color: #555; margin: 0 0 3mm; }
.verdict { display: inline-block; padding: 1.5mm 4mm; border-radius: 2mm; font-weight: bold; font-size: 14pt; }
.ready { background: #e8f5e9; color: #1b5e20; border: 1px solid #2e7d32; }
.risk { background: #fff3e0; color: #8a4b00; border: 1px solid #ef6c00; }
.notready { background: #ffebee; color: #b71c1c; border: 1px solid #c62828; }
.tag { display: inline-block; white-space: nowrap; padding: 0 2mm; border-radius: 1mm; font-weight: bold; font-size: 9pt; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; }
th, td { border: 1px solid #bbb; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
th { background: #eee; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; background: #f4f4f4; padding: 0 1mm;
       word-break: break-all; }
ol li, ul li { margin-bottom: 1mm; }
figure { margin: 4mm 0; page-break-inside: avoid; break-inside: avoid; }
figcaption { font-weight: bold; margin-bottom: 1mm; }
svg.chart { width: 100%; max-width: 186mm; height: auto; display: block; font-size: 12px; }
svg text { fill: #222; }
svg text.axis { font-size: 11px; fill: #444; }
svg text.muted { fill: #777; }
svg text.bad { fill: #c62828; font-weight: bold; }
svg text.onbar { fill: #fff; font-weight: bold; }
.note { color: #555; font-size: 8.5pt; margin: 1mm 0 0; }
section.policy { page-break-inside: avoid; break-inside: avoid; }
section.page { page-break-before: always; break-before: page; }
@media print {
  body { padding: 0; max-width: none; }
  a { color: inherit; text-decoration: none; }
}
)";

std::string action_html(const Action& a, ReportLang lang) {
  std::string text = tr(lang, "action." + a.code);
  ReportParams params = with_context(a.params, a.policy, "");
  auto pos = text.find("{command}");
  if (pos == std::string::npos || a.command.empty()) return esc(fill(text, params));
  return esc(fill(text.substr(0, pos), params)) + "<code>" + esc(a.command) + "</code>" +
         esc(fill(text.substr(pos + 9), params));
}

std::string render_html(const ReadinessReport& r, ReportLang lang) {
  std::string o;
  o += "<!DOCTYPE html>\n<html lang=\"" + std::string(lang == ReportLang::vi ? "vi" : "en") + "\">\n<head>\n";
  o += "<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  o += "<title>" + esc(tr(lang, "title")) + "</title>\n<style>" + k_css + "</style>\n</head>\n<body>\n";
  o += "<section>\n<h1>" + esc(tr(lang, "title")) + "</h1>\n";
  o += "<p class=\"meta\">" + esc(tr(lang, "generated")) + ": " + esc(format_local(r.generated_at)) + ". " +
       esc(tr(lang, "host_note")) + "</p>\n";
  o += "<p>" + esc(tr(lang, "overall")) + ": <span class=\"verdict " + verdict_class(r.verdict) + "\">" +
       esc(verdict_text(r.verdict, lang)) + "</span></p>\n";
  o += "<h2>" + esc(tr(lang, "summary")) + "</h2>\n";
  if (r.policies.empty())
    o += "<p>" + esc(tr(lang, "no_policies")) + "</p>\n";
  else {
    o += "<table>\n<thead><tr>";
    for (const auto& h : header_row(lang)) o += "<th>" + esc(h) + "</th>";
    o += "</tr></thead>\n<tbody>\n";
    for (const auto& p : r.policies) {
      auto row = policy_row(p, lang);
      o += "<tr>";
      for (std::size_t i = 0; i < row.size(); ++i) {
        if (i == 1)
          o += "<td><span class=\"tag " + verdict_class(p.verdict) + "\">" + esc(row[i]) + "</span></td>";
        else
          o += "<td>" + esc(row[i]) + "</td>";
      }
      o += "</tr>\n";
    }
    o += "</tbody>\n</table>\n";
  }
  o += "<h2>" + esc(tr(lang, "reasons")) + "</h2>\n";
  if (r.reasons.empty())
    o += "<p>" + esc(tr(lang, "no_reasons")) + "</p>\n";
  else {
    o += "<ul>\n";
    for (const auto& x : r.reasons)
      o += "<li><span class=\"tag " + verdict_class(x.severity) + "\">" + esc(verdict_text(x.severity, lang)) +
           "</span> <b>" + esc(x.policy) + "</b>: " + esc(reason_text(x, lang)) + "</li>\n";
    o += "</ul>\n";
  }
  o += "<h2>" + esc(tr(lang, "actions")) + "</h2>\n";
  if (r.actions.empty())
    o += "<p>" + esc(tr(lang, "no_actions")) + "</p>\n";
  else {
    o += "<ol>\n";
    for (const auto& a : r.actions) o += "<li><b>" + esc(a.policy) + "</b>: " + action_html(a, lang) + "</li>\n";
    o += "</ol>\n";
  }
  o += "</section>\n<section class=\"page\">\n<h2>" + esc(tr(lang, "charts")) + "</h2>\n" + html_charts(r, lang) +
       "</section>\n";
  o += "<section class=\"page\">\n<h2>" + esc(tr(lang, "details")) + "</h2>\n";
  for (const auto& p : r.policies) {
    o += "<section class=\"policy\">\n<h3>" + esc(p.name) + " <span class=\"tag " + verdict_class(p.verdict) + "\">" +
         esc(verdict_text(p.verdict, lang)) + "</span></h3>\n<ul>\n";
    auto item = [&](const std::string& label, const std::string& value) {
      o += "<li><b>" + esc(label) + "</b>: " + esc(value) + "</li>\n";
    };
    if (!p.description.empty()) item(tr(lang, "description"), p.description);
    item(tr(lang, "newest"), p.snapshot.at ? format_local(*p.snapshot.at) + " (" + ago(p.snapshot.age_s, lang) + ")" +
                                                 (p.snapshot.id ? ", " + p.snapshot.id->substr(0, 8) : "")
                                           : tr(lang, "never"));
    item(tr(lang, "rpo"), rpo_cell(p.snapshot, lang));
    item(tr(lang, "check"), check_cell(p.check, lang));
    if (p.drills.empty()) item(tr(lang, "drill"), tr(lang, "no_runbook"));
    for (const auto& d : p.drills) {
      std::string v = drill_line(d, lang, true);
      if (d.rto_met) v += " — " + tr(lang, *d.rto_met ? "rto_met" : "rto_not_met");
      item(tr(lang, "drill"), v);
    }
    if (p.copies.empty()) item(tr(lang, "copies"), tr(lang, "none"));
    for (const auto& c : p.copies)
      item(tr(lang, "kind." + c.kind), c.destination + ": " + ago(c.age_s, lang) +
                                           (c.append_only ? ", " + tr(lang, "append_only") : std::string()));
    std::string an = anomaly_cell(p.anomaly, lang);
    if (p.anomaly.score)
      an += ", " + tr(lang, "score",
                      {{"score", fmt::format("{:.2f}", *p.anomaly.score)},
                       {"threshold", fmt::format("{:.2f}", p.anomaly.threshold)}});
    item(tr(lang, "anomaly"), an);
    item(tr(lang, "failures"), p.failures.empty() ? tr(lang, "none") : std::to_string(p.failures.size()));
    o += "</ul>\n";
    if (!p.failures.empty()) {
      o += "<ul>\n";
      for (const auto& f : p.failures) o += "<li>" + esc(failure_line(f, lang)) + "</li>\n";
      o += "</ul>\n";
    }
    o += "</section>\n";
  }
  o += "</section>\n</body>\n</html>\n";
  return o;
}

}  // namespace

std::string report_text(ReportLang lang, std::string_view key) { return tr(lang, key); }

std::string reason_text(const Reason& reason, ReportLang lang) {
  return tr(lang, "reason." + reason.code, with_context(reason.params, reason.policy, ""));
}

std::string action_text(const Action& action, ReportLang lang) {
  return tr(lang, "action." + action.code, with_context(action.params, action.policy, action.command));
}

nlohmann::ordered_json report_to_json(const ReadinessReport& r, ReportLang lang) {
  nlohmann::ordered_json j;
  j["generated_at"] = format_rfc3339(r.generated_at);
  j["lang"] = lang == ReportLang::vi ? "vi" : "en";
  j["title"] = tr(lang, "title");
  j["verdict"] = std::string(to_string(r.verdict));
  j["verdict_text"] = verdict_text(r.verdict, lang);
  j["reasons"] = nlohmann::ordered_json::array();
  for (const auto& x : r.reasons) j["reasons"].push_back(reason_json(x, lang));
  j["actions"] = nlohmann::ordered_json::array();
  for (const auto& a : r.actions) j["actions"].push_back(action_json(a, lang));
  j["policies"] = nlohmann::ordered_json::array();
  j["history"] = nlohmann::ordered_json::array();
  for (const auto& p : r.policies) {
    nlohmann::ordered_json pj;
    pj["name"] = p.name;
    pj["description"] = p.description;
    pj["verdict"] = std::string(to_string(p.verdict));
    pj["reasons"] = nlohmann::ordered_json::array();
    for (const auto& x : p.reasons) pj["reasons"].push_back(reason_json(x, lang));
    pj["actions"] = nlohmann::ordered_json::array();
    for (const auto& a : p.actions) pj["actions"].push_back(action_json(a, lang));
    pj["newest_snapshot"] = {
        {"id", opt(p.snapshot.id)},
        {"at", opt_time(p.snapshot.at)},
        {"age_s", opt(p.snapshot.age_s)},
        {"rpo_s", opt(p.snapshot.rpo_s)},
        {"rpo_status",
         p.snapshot.rpo_status.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(p.snapshot.rpo_status)}};
    pj["last_check"] = {
        {"at", opt_time(p.check.at)},
        {"age_s", opt(p.check.age_s)},
        {"status", p.check.status.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(p.check.status)},
        {"bytes_read", opt(p.check.bytes_read)},
        {"packs_read", opt(p.check.packs_read)},
        {"structure_only",
         p.check.at ? nlohmann::ordered_json(p.check.bytes_read.value_or(0) == 0) : nlohmann::ordered_json()}};
    pj["drills"] = nlohmann::ordered_json::array();
    for (const auto& d : p.drills)
      pj["drills"].push_back({{"runbook", d.runbook},
                              {"readiness", d.verified ? "VERIFIED" : "NEEDS DRILL"},
                              {"last_at", opt_time(d.last_at)},
                              {"result", d.result},
                              {"rto_s", opt(d.rto_s)},
                              {"rto_target_s", opt(d.rto_target_s)},
                              {"rto_met", d.rto_met ? nlohmann::ordered_json(*d.rto_met) : nlohmann::ordered_json()}});
    pj["copies"] = nlohmann::ordered_json::array();
    for (const auto& c : p.copies)
      pj["copies"].push_back({{"destination", c.destination},
                              {"kind", c.kind.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(c.kind)},
                              {"append_only", c.append_only},
                              {"last_at", opt_time(c.at)},
                              {"age_s", opt(c.age_s)}});
    pj["anomaly"] = {{"enabled", p.anomaly.enabled},
                     {"snapshot_id", opt(p.anomaly.snapshot_id)},
                     {"score", opt(p.anomaly.score)},
                     {"flagged", p.anomaly.flagged},
                     {"threshold", p.anomaly.threshold}};
    pj["failures_7d"] = nlohmann::ordered_json::array();
    for (const auto& f : p.failures)
      pj["failures_7d"].push_back(
          {{"kind", f.kind},
           {"at", format_rfc3339(f.at)},
           {"stage", f.stage.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(f.stage)},
           {"error", f.error.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(f.error)}});
    j["policies"].push_back(std::move(pj));

    nlohmann::ordered_json h;
    h["policy"] = p.name;
    h["repository_bytes_basis"] = "cumulative data_added of successful backups";
    h["backups"] = nlohmann::ordered_json::array();
    for (const auto& b : p.backups)
      h["backups"].push_back({{"at", format_rfc3339(b.at)},
                              {"data_added", opt(b.data_added)},
                              {"total_bytes", opt(b.total_bytes)},
                              {"repository_bytes", b.repository_bytes},
                              {"anomaly_score", opt(b.anomaly_score)},
                              {"anomaly_flagged", b.anomaly_flagged}});
    h["drills"] = nlohmann::ordered_json::array();
    for (const auto& d : p.drill_history)
      h["drills"].push_back({{"at", format_rfc3339(d.at)},
                             {"runbook", d.runbook},
                             {"result", d.result},
                             {"rto_s", opt(d.rto_s)},
                             {"rto_target_s", opt(d.rto_target_s)}});
    j["history"].push_back(std::move(h));
  }
  return j;
}

std::string render_report(const ReadinessReport& report, ReportFormat format, ReportLang lang) {
  switch (format) {
    case ReportFormat::text:
      return render_text(report, lang);
    case ReportFormat::md:
      return render_md(report, lang);
    case ReportFormat::json:
      return json_dump(report_to_json(report, lang), 2) + "\n";
    case ReportFormat::html:
      return render_html(report, lang);
  }
  return render_text(report, lang);
}

}  // namespace kho::orchestrate
