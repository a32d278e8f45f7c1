#pragma once
// The mock's endpoints besides chat (docs/MOCK.md): embeddings, images, audio, moderation, in
// OpenAI's shapes and in the native shapes of the providers that have their own (Cohere's
// embed, Gemini's predict, Leonardo's and Luma's asynchronous jobs, ElevenLabs' audio...).
// An endpoint is pure: it turns one request into one answer (status, type, body, or pieces
// streamed `interval_ms` apart); mock.cpp applies the knobs (latency, injected faults) around
// it and does the I/O. One file per vendor, one line per endpoint in mock_endpoints.cpp.
//
// Like the chat formats, endpoints are written apart from the adapters (src/providers/): they
// are the other side of the wire that tests them.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "server/http.h"
#include "tools/mock/mock_wire.h"

namespace torii {

struct MockRequest {
  std::string_view method;  // "POST", "GET"
  std::string_view target;  // with the query string
  std::string_view path;    // without it
  const Headers& headers;
  std::string_view body;
  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

struct MockAnswer {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // A streamed answer (chunked): one write per piece, the knob interval_ms apart; `body` is
  // then unused.
  std::vector<std::string> pieces;
  Headers headers;
  // An error in OpenAI's shape.
  static MockAnswer openai_error(const ApiError& e);
  static MockAnswer json(std::string body, int status = 200) {
    MockAnswer a;
    a.status = status;
    a.body = std::move(body);
    return a;
  }
};

// Asynchronous jobs (Leonardo, Luma): one request creates a job, later ones poll it. Shared by
// every worker (a mutex; the mock is not measured on this path).
class MockJobs {
 public:
  // A job whose first `polls` polls find it pending, then done with `payload` (the endpoint's
  // own text: its answer body, or what it needs to build it). Returns its id "job-<n>".
  std::string create(std::string payload, int polls);
  struct Poll {
    bool done = false;
    std::string payload;
  };
  // One poll of job `id`; nullopt when there is no such job.
  std::optional<Poll> poll(std::string_view id);

 private:
  struct Job {
    std::string payload;
    int polls_left = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Job> jobs_;
  std::int64_t next_ = 0;
};

class MockEndpoint {
 public:
  virtual ~MockEndpoint() = default;
  // The key of its counter in /mock/stats "endpoints" ("openai-images", "leonardo"...).
  virtual std::string_view name() const = 0;
  virtual bool matches(std::string_view method, std::string_view path) const = 0;
  // The answer. The handler already read the body, applied latency_ms and returned any
  // injected fault (in `error_shape`'s form).
  virtual MockAnswer answer(const MockRequest& req, const MockKnobs& knobs,
                            MockJobs& jobs) const = 0;
  // An injected fault or a bad knob, in this endpoint's error shape (default: OpenAI's).
  virtual MockAnswer error(const ApiError& e) const { return MockAnswer::openai_error(e); }
};

// Every endpoint, in match order (mock_endpoints.cpp).
const std::vector<const MockEndpoint*>& mock_endpoints();

// --- shared by the endpoints ---------------------------------------------------------------

// The marker the mock's speech writes into its audio and its transcription reads back: a file
// holding "MOCKAUDIO:<text>\n" transcribes to <text>, so speech → transcription round-trips.
inline constexpr std::string_view kMockAudioMarker = "MOCKAUDIO:";
// The audio the mock speaks for `text` in `format` (mp3, wav, opus, aac, flac, pcm): a real
// WAV header for wav (16 kHz mono PCM), else a short tag; then the marker line; then filler up
// to `bytes` (at least the marker). Its duration, as the transcription reads it back:
// mock_audio_seconds.
std::string mock_audio(std::string_view text, std::string_view format, std::size_t bytes);
// The content type of a speech format ("audio/mpeg" for mp3...), or "" when unknown.
std::string_view mock_audio_type(std::string_view format);
// What a transcription hears in `file`: the marker's text when present, else
// "[<n> bytes of audio]".
std::string mock_transcribe(std::string_view file);
// The duration of `file`: from its WAV header when it has one (data bytes / byte rate), else
// bytes / 16000 (128 kbit/s), at least 0.1 s.
double mock_audio_seconds(std::string_view file);

// One part of a multipart/form-data body, as the mock reads it (its own small reader, apart
// from the gateway's parser).
struct MockPart {
  std::string name, filename, content_type;
  std::string_view data;
};
// The parts of `body` given the request's Content-Type; an error names what is wrong.
Result<std::vector<MockPart>> mock_multipart(std::string_view content_type, std::string_view body);

// A 1x1 PNG, base64 (the images the mock makes).
inline constexpr std::string_view kMockPngB64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

}  // namespace torii
