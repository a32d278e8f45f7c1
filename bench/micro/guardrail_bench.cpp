// Guardrail scan throughput (MB/s, SetBytesProcessed) of the built-in detectors, for the
// issue's done-criterion: PII and secrets together >= 500 MB/s per core on prompt-like text.
//   Guardrail_Prompt64K/<set>:   64 KiB of English prose and code snippets, no findings
//   Guardrail_Findings64K/<set>: the same with a finding (rotating kinds) every ~2 KiB
//   Guardrail_ChatJson:          one-line OpenAI chat bodies (~1.5 KiB each), all entities
// <set>: 0 = PII + secrets (every built-in entity), 1 = PII only, 2 = secrets only,
// 3 = everything + two custom RE2 patterns (RE2::Set pass).
//   Guardrail_PolicyRequest:     the guardrail policy's phase before on one chat request
//                                (~1.5 KiB, system + user message), the demo's checks (secrets,
//                                PII mask) plus a regex: text extraction, scans, records
//                                (the body's parse included: see ..._PolicyRequestBaseline)
//   Guardrail_PolicyStream:      a guarded stream of 64 text deltas of ~24 bytes through the
//                                StreamFilter (hold-back window, scans), per stream
#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>

#include <string>
#include <vector>

#include "api/inbound.h"
#include "config/snapshot.h"
#include "guardrails/scanner.h"
#include "pipeline/request_context.h"

namespace torii::bench {
namespace {

using guardrails::Entity;
using guardrails::Finding;
using guardrails::Scanner;
using guardrails::ScannerConfig;

const char* const kProse[] = {
    "Could you review the following function and explain why the tests fail on the CI "
    "runner but pass locally? I suspect a race between the worker threads and the logger. ",
    "Summarize the attached meeting notes in five bullet points, keeping the decisions and "
    "the owners, and drop the small talk. The meeting ran from 9:30 to 11:00 on 2024-05-14. ",
    "We migrated 3 services to the new cluster last week; latency dropped by 35% and the "
    "error rate stayed under 0.2%. Version 2.14.1 of the client library fixed the retries. ",
    "Please translate this paragraph into French, keep the technical terms in English, and "
    "use a formal register suitable for a customer-facing release note. ",
    "The invoice total was EUR 1,299.00 for 12 seats; order 1234567812345678 ships in 3-5 "
    "business days. Room 4B, floor 2, building C. ",
};
const char* const kCode[] = {
    "```cpp\nstd::vector<int> scores{90, 85, 77};\nfor (std::size_t i = 0; i < scores.size(); "
    "++i) {\n  if (scores[i] > 80) std::cout << i << \": \" << scores[i] << '\\n';\n}\n```\n",
    "```python\nimport numpy as np\ndef normalize(x):\n    mu, sigma = x.mean(), x.std()\n"
    "    return (x - mu) / (sigma + 1e-9)\nprint(normalize(np.arange(10))[::2])\n```\n",
    "```json\n{\"name\": \"torii\", \"version\": \"0.4.2\", \"port\": 8080, \"workers\": 4, "
    "\"timeouts\": {\"connect_ms\": 5000, \"idle_ms\": 120000}}\n```\n",
    "```yaml\nserver:\n  listen: \"localhost:8080\"\n  max_body_bytes: 10485760\nroutes:\n"
    "  - name: fast\n    targets: [local/mock-1, backup/mock-1]\n```\n",
    "```bash\ngit log --oneline -n 20 | grep -i fix\nmake -j4 && ./build/torii serve "
    "--workers 2\ncurl -s localhost:8080/health | jq .status\n```\n",
};

std::string prompt_text(std::size_t size) {
  std::string s;
  for (std::size_t i = 0; s.size() < size; ++i) {
    s += kProse[i % 5];
    s += kProse[(i * 3 + 1) % 5];
    if (i % 2 == 0) s += kCode[(i / 2) % 5];
  }
  s.resize(size);
  return s;
}

const std::vector<std::string>& finding_samples() {
  static const std::vector<std::string> v = {
      " contact jane.doe@example.com ",
      " call +33 6 12 34 56 78 ",
      " card 4111 1111 1111 1111 ",
      std::string(" export AWS_ACCESS_KEY_ID=AKIA") + "IOSFODNN7EXAMPLE ",
      " IBAN FR76 3000 6000 0112 3456 7890 189 ",
      std::string(" Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.") +
          "eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c ",
      " host 192.168.10.24 ",
      std::string(" token ghp_") + "ribxUdl7dXTPyLsxPFkThf4VucSmEHgaKwVJ ",
  };
  return v;
}

std::string with_findings(std::size_t size, std::size_t every) {
  std::string base = prompt_text(size), s;
  const auto& samples = finding_samples();
  for (std::size_t i = 0, k = 0; i < base.size(); i += every, ++k) {
    s.append(base, i, every);
    s += samples[k % samples.size()];
  }
  return s;
}

std::vector<std::string> chat_bodies() {
  std::vector<std::string> v;
  for (int i = 0; i < 16; ++i) {
    std::string content = prompt_text(1200 + 37 * i).substr(static_cast<std::size_t>(i) * 11);
    std::string esc;
    for (char c : content) {
      if (c == '"' || c == '\\') esc += '\\';
      if (c == '\n') {
        esc += "\\n";
        continue;
      }
      esc += c;
    }
    v.push_back("{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"content\":"
                "\"You are a helpful assistant.\"},{\"role\":\"user\",\"content\":\"" + esc +
                "\"}],\"temperature\":0.2,\"stream\":true,\"user\":\"req-" +
                std::to_string(1000 + i) + "\"}");
  }
  return v;
}

std::shared_ptr<const Scanner> scanner_for(int set) {
  ScannerConfig cfg;
  auto pii = guardrails::pii_entities();
  auto sec = guardrails::secret_entities();
  if (set != 2) cfg.entities.insert(cfg.entities.end(), pii.begin(), pii.end());
  if (set != 1) cfg.entities.insert(cfg.entities.end(), sec.begin(), sec.end());
  if (set == 3) cfg.custom = {{"employee_id", "EMP-[0-9]{6}"}, {"codename", "(?i)project orion"}};
  auto s = Scanner::build(cfg);
  return s.ok() ? s.value() : nullptr;
}

void run(benchmark::State& state, const std::string& text, bool expect_none) {
  auto scanner = scanner_for(static_cast<int>(state.range(0)));
  std::vector<Finding> out;
  out.reserve(256);
  scanner->scan(text, out);
  if (expect_none && !out.empty()) {
    state.SkipWithError("the no-finding corpus has findings");
    return;
  }
  std::size_t n = 0;
  for (auto _ : state) {
    scanner->scan(text, out);
    n += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["findings"] = static_cast<double>(out.size());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void Guardrail_Prompt64K(benchmark::State& state) {
  static const std::string text = prompt_text(64 * 1024);
  run(state, text, true);
}
BENCHMARK(Guardrail_Prompt64K)->Arg(0)->Arg(1)->Arg(2)->Arg(3);

void Guardrail_Findings64K(benchmark::State& state) {
  static const std::string text = with_findings(64 * 1024, 2048);
  run(state, text, false);
}
BENCHMARK(Guardrail_Findings64K)->Arg(0)->Arg(1)->Arg(2)->Arg(3);

void Guardrail_ChatJson(benchmark::State& state) {
  static const std::vector<std::string> bodies = chat_bodies();
  auto scanner = scanner_for(0);
  std::vector<Finding> out;
  std::size_t bytes = 0, found = 0;
  for (const auto& b : bodies) {
    scanner->scan(b, out);
    found += out.size();
  }
  if (found) {
    state.SkipWithError("the chat bodies have findings");
    return;
  }
  for (auto _ : state) {
    for (const auto& b : bodies) {
      scanner->scan(b, out);
      bytes += b.size();
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(Guardrail_ChatJson);

std::shared_ptr<const Snapshot> guarded_snapshot() {
  auto cfg = parse_config(R"(
egress: {allow_networks: [127.0.0.0/8]}
providers:
  - {name: up, kind: openai-compatible, base_url: "http://127.0.0.1:9/v1", models: [m]}
routes:
  - {name: chat, targets: [up/m]}
guardrails:
  checks:
    - {id: no-secrets, kind: secrets, phase: [before, after]}
    - {id: pii, kind: pii, action: mask, reinflate: true, entities: [email, phone, credit_card]}
    - {id: no-injection, kind: regex, deny: ["(?i)ignore (all )?previous instructions"]}
)", "bench.yaml");
  if (!cfg) return nullptr;
  auto s = build_snapshot(std::move(*cfg), "");
  return s ? *s : nullptr;
}

// The guarded snapshot, its guardrail policy and route "chat" (policy null: not built).
struct Guarded {
  std::shared_ptr<const Snapshot> snap = guarded_snapshot();
  Policy* policy = nullptr;
  Route scratch;
  const Route* route = nullptr;
  Guarded() {
    if (!snap) return;
    for (const auto& p : snap->policies)
      if (p->name() == "guardrails") policy = p.get();
    route = snap->resolve("chat", nullptr, scratch);
  }
  // A request context for `body` (JSON) on route "chat".
  void prepare(RequestContext& ctx, std::string_view body, bool stream) const {
    ctx.snapshot = snap;
    ctx.codec = &openai_chat_codec();
    ctx.api = InboundApi::openai_chat;
    ctx.request = boost::json::parse(body).as_object();
    ctx.stream = stream;
    ctx.route = route;
  }
};

void Guardrail_PolicyRequest(benchmark::State& state) {
  static const std::vector<std::string> bodies = chat_bodies();
  const Guarded g;
  if (!g.policy) {
    state.SkipWithError("no guardrail policy");
    return;
  }
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    RequestContext ctx;
    const std::string& body = bodies[i++ % bodies.size()];
    g.prepare(ctx, body, false);
    Verdict v;
    g.policy->on_request_now(ctx, v);
    benchmark::DoNotOptimize(v);
    bytes += body.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(Guardrail_PolicyRequest);

// The same loop without the policy: what Guardrail_PolicyRequest spends outside it (the
// context and the parse of the body), to subtract.
void Guardrail_PolicyRequestBaseline(benchmark::State& state) {
  static const std::vector<std::string> bodies = chat_bodies();
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    RequestContext ctx;
    const std::string& body = bodies[i++ % bodies.size()];
    ctx.request = boost::json::parse(body).as_object();
    benchmark::DoNotOptimize(ctx.request);
    bytes += body.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(Guardrail_PolicyRequestBaseline);

struct Discard : StreamFilter::Out {
  std::size_t n = 0;
  void event(const StreamEvent& e) override { n += e.text.size(); }
};

void Guardrail_PolicyStream(benchmark::State& state) {
  const Guarded g;
  if (!g.policy) {
    state.SkipWithError("no guardrail policy");
    return;
  }
  const std::string text = prompt_text(64 * 24);
  std::size_t bytes = 0;
  for (auto _ : state) {
    RequestContext ctx;
    g.prepare(ctx, R"({"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]})",
              true);
    Verdict v;
    g.policy->on_request_now(ctx, v);
    Discard out;
    StreamEvent e;
    e.kind = StreamEvent::Kind::text;
    for (std::size_t at = 0; at < text.size(); at += 24) {
      e.text = std::string_view(text).substr(at, 24);
      ctx.stream_filter->event(e, out);
    }
    StreamEvent fin;
    fin.kind = StreamEvent::Kind::finish;
    ctx.stream_filter->event(fin, out);  // flushes the held-back text
    benchmark::DoNotOptimize(out.n);
    bytes += text.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(Guardrail_PolicyStream);

}  // namespace
}  // namespace torii::bench
