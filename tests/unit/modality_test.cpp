// The modalities' shared pieces: the multipart parser and writer, the inbound checks, the
// OpenAI-shaped answers, the prices of the new units, and the OpenAI-compatible codec.
#include <gtest/gtest.h>

#include <cstring>

#include <boost/json.hpp>

#include "api/openai_modalities.h"
#include "core/base64.h"
#include "core/multipart.h"
#include "providers/openai_compatible.h"
#include "providers/openai_media.h"
#include "providers/vendors.h"
#include "quota/prices.h"
#include "routing/route.h"

namespace torii {
namespace {

namespace json = boost::json;

std::string form_text(std::string_view boundary) {
  std::string b(boundary);
  return "--" + b + "\r\n"
         "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
         "whisper-1\r\n"
         "--" + b + "\r\n"
         "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\n"
         "Content-Type: audio/wav\r\n\r\n"
         + std::string("RIFF\r\n--not-the-boundary\r\n\0bytes\0", 34) + "\r\n"
         "--" + b + "\r\n"
         "Content-Disposition: form-data; name=\"include[]\"\r\n\r\n"
         "logprobs\r\n"
         "--" + b + "--\r\n";
}

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\""), "a b:c");
  EXPECT_FALSE(multipart_boundary("application/json"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary="));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=a\x01"));
}

// Fed whole or a byte at a time (the buffer grown, as the server reads it), the parts are the
// same: names, filename unescaped, content type, and data with its CRLFs and NULs intact.
TEST(Multipart, ParsesWholeOrByteByByte) {
  const std::string body = form_text("XyZ");
  for (std::size_t step : {body.size(), std::size_t{1}, std::size_t{7}}) {
    MultipartParser p("XyZ");
    for (std::size_t n = step; n < body.size(); n += step)
      ASSERT_TRUE(p.feed(std::string_view(body).substr(0, n))) << n;
    auto form = p.finish(body);
    ASSERT_TRUE(form) << form.error().message;
    ASSERT_EQ(form->parts.size(), 3u);
    EXPECT_EQ(form->parts[0].name, "model");
    EXPECT_EQ(form->parts[0].data, "whisper-1");
    EXPECT_EQ(form->parts[1].filename, "a \"b\".wav");
    EXPECT_EQ(form->parts[1].content_type, "audio/wav");
    EXPECT_EQ(form->parts[1].data, std::string_view("RIFF\r\n--not-the-boundary\r\n\0bytes\0", 34));
    EXPECT_EQ(form->parts[2].name, "include[]");
    EXPECT_EQ(form->find("file"), &form->parts[1]);
  }
}

TEST(Multipart, RefusesAtTheFirstBadByte) {
  // A part header line without a colon: refused while the rest has not arrived.
  MultipartParser p("b");
  std::string start = "--b\r\nnot a header\r\n\r\n";
  auto r = p.feed(start);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().code, "invalid_multipart");
  EXPECT_FALSE(p.feed(start + "more"));  // final
  ASSERT_TRUE(p.error());
}

TEST(Multipart, MalformedBodies) {
  auto parse = [](std::string body, MultipartParser::Limits limits = {}) {
    MultipartParser p("b", limits);
    return p.finish(body);
  };
  // No closing delimiter (a cut upload).
  EXPECT_FALSE(parse("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nvalue"));
  // No part at all, wrong boundary.
  auto wrong = parse("--other\r\n\r\n");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("boundary"), std::string::npos);
  // A part without Content-Disposition, or without a name.
  EXPECT_FALSE(parse("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--"));
  EXPECT_FALSE(parse("--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--"));
  EXPECT_FALSE(parse("--b\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nx\r\n--b--"));
  // An unclosed quoted name.
  EXPECT_FALSE(parse("--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\nx\r\n--b--"));
  // Garbage after a delimiter.
  EXPECT_FALSE(parse("--bXX\r\n"));
  // Limits: a text field too big, too many parts, headers too long.
  MultipartParser::Limits small;
  small.max_field_bytes = 4;
  EXPECT_FALSE(parse("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n12345\r\n--b--", small));
  EXPECT_TRUE(parse("--b\r\nContent-Disposition: form-data; name=\"x\"; filename=\"f\"\r\n\r\n12345\r\n--b--", small));
  small = {};
  small.max_parts = 1;
  EXPECT_FALSE(parse("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n"
                     "--b\r\nContent-Disposition: form-data; name=\"y\"\r\n\r\n2\r\n--b--", small));
  small = {};
  small.max_header_bytes = 16;
  EXPECT_FALSE(parse("--b\r\nContent-Disposition: form-data; name=\"long-name\"\r\n\r\n1\r\n--b--", small));
  // A preamble without any delimiter in its first KiB.
  EXPECT_FALSE(parse(std::string(2000, 'x')));
}

TEST(Multipart, WriterRoundTrips) {
  MultipartWriter w;
  w.field("model", "m\"1");
  w.file("file", "x.mp3", "audio/mpeg", std::string("a\r\n\0b", 5));
  const std::string type = w.content_type();
  const std::string body = w.close();
  auto boundary = multipart_boundary(type);
  ASSERT_TRUE(boundary);
  MultipartParser p(*boundary);
  auto form = p.finish(body);
  ASSERT_TRUE(form) << form.error().message;
  ASSERT_EQ(form->parts.size(), 2u);
  EXPECT_EQ(form->parts[0].name, "model");
  EXPECT_EQ(form->parts[0].data, "m\"1");
  EXPECT_EQ(form->parts[1].filename, "x.mp3");
  EXPECT_EQ(form->parts[1].data, std::string_view("a\r\n\0b", 5));
}

// --- the inbound checks ------------------------------------------------------------------------

ApiError json_error(Modality m, std::string_view body) {
  json::object o;
  auto r = parse_modality_json(m, body, o);
  EXPECT_FALSE(r) << body;
  return r ? ApiError{} : r.error();
}

TEST(ModalityChecks, NameTheFieldAtFault) {
  EXPECT_EQ(json_error(Modality::embeddings, R"({"model":"m"})").param, "input");
  EXPECT_EQ(json_error(Modality::embeddings, R"({"model":"m","input":""})").param, "input");
  EXPECT_EQ(json_error(Modality::embeddings, R"({"model":"m","input":[1,"a"]})").param, "input");
  EXPECT_EQ(json_error(Modality::embeddings, R"({"model":"m","input":"a","encoding_format":"hex"})").param,
            "encoding_format");
  EXPECT_EQ(json_error(Modality::embeddings, R"({"model":"m","input":"a","dimensions":0})").param,
            "dimensions");
  EXPECT_EQ(json_error(Modality::embeddings, R"({"input":"a"})").param, "model");
  EXPECT_EQ(json_error(Modality::image_generation, R"({"model":"m"})").param, "prompt");
  EXPECT_EQ(json_error(Modality::image_generation, R"({"model":"m","prompt":"p","n":11})").param, "n");
  EXPECT_EQ(json_error(Modality::image_generation, R"({"model":"m","prompt":"p","size":"big"})").param,
            "size");
  EXPECT_EQ(json_error(Modality::speech, R"({"model":"m","input":"hi"})").param, "voice");
  EXPECT_EQ(json_error(Modality::speech, R"({"model":"m","input":"hi","voice":"v","speed":9})").param,
            "speed");
  EXPECT_EQ(json_error(Modality::speech,
                       R"({"model":"m","voice":"v","input":")" + std::string(4097, 'a') + "\"}")
                .param,
            "input");
  EXPECT_EQ(json_error(Modality::moderation, R"({"input":[{"type":"video"}]})").param, "input");
  EXPECT_EQ(json_error(Modality::moderation, "[1]").status, 400);
  EXPECT_EQ(json_error(Modality::moderation, "{").status, 400);
}

TEST(ModalityChecks, AcceptsWhatOpenAiAccepts) {
  json::object o;
  ASSERT_TRUE(parse_modality_json(Modality::embeddings,
                                  R"({"model":"m","input":[[1,2],[3]],"encoding_format":"base64"})", o));
  auto mod = parse_modality_json(Modality::moderation, R"({"input":"x"})", o);
  ASSERT_TRUE(mod);
  EXPECT_EQ(mod->model, "omni-moderation-latest");  // OpenAI's default
  ASSERT_TRUE(parse_modality_json(Modality::speech,
                                  R"({"model":"tts-1","input":"héllo","voice":{"id":"v1"}})", o));
  EXPECT_EQ(speech_characters(o), 5);  // code points, not bytes
}

TEST(ModalityChecks, Forms) {
  Form form;
  form.parts.push_back({"model", "", "", "whisper-1"});
  form.parts.push_back({"temperature", "", "", "0.5"});
  form.parts.push_back({"timestamp_granularities[]", "", "", "word"});
  form.parts.push_back({"timestamp_granularities[]", "", "", "segment"});
  json::object body;
  EXPECT_EQ(parse_modality_form(Modality::transcription, form, body).error().param, "file");
  form.parts.push_back({"file", "a.wav", "audio/wav", "RIFF"});
  json::object ok;
  auto r = parse_modality_form(Modality::transcription, form, ok);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->model, "whisper-1");
  EXPECT_EQ(ok.at("timestamp_granularities").as_array().size(), 2u);
  EXPECT_EQ(ok.at("temperature").as_string(), "0.5");
  form.parts.push_back({"response_format", "", "", "xml"});
  json::object bad;
  EXPECT_EQ(parse_modality_form(Modality::transcription, form, bad).error().param,
            "response_format");
  Form edit;
  edit.parts.push_back({"model", "", "", "gpt-image-1"});
  edit.parts.push_back({"prompt", "", "", "a hat"});
  json::object e;
  EXPECT_EQ(parse_modality_form(Modality::image_edit, edit, e).error().param, "image");
  edit.parts.push_back({"image[]", "cat.png", "image/png", "PNG"});
  json::object e2;
  EXPECT_TRUE(parse_modality_form(Modality::image_edit, edit, e2));
}

// --- the OpenAI-shaped answers -----------------------------------------------------------------

TEST(ModalityAnswers, EmbeddingsFloatAndBase64) {
  std::vector<std::vector<float>> v = {{0.5f, -1.25f}, {3.0f, 0.1f}};
  Usage u;
  u.prompt_tokens = 7;
  auto floats = json::parse(openai_embeddings_json(v, "m", u, VectorEncoding::floats)).as_object();
  EXPECT_EQ(floats.at("data").as_array()[1].at("index").as_int64(), 1);
  EXPECT_DOUBLE_EQ(floats.at("data").as_array()[0].at("embedding").as_array()[1].to_number<double>(), -1.25);
  EXPECT_EQ(floats.at("usage").at("prompt_tokens").as_int64(), 7);
  EXPECT_EQ(floats.at("usage").at("total_tokens").as_int64(), 7);
  auto b64 = json::parse(openai_embeddings_json(v, "m", u, VectorEncoding::base64)).as_object();
  std::string bytes;
  ASSERT_TRUE(base64_decode(b64.at("data").as_array()[1].at("embedding").as_string(), bytes));
  ASSERT_EQ(bytes.size(), 8u);
  float back[2];
  std::memcpy(back, bytes.data(), 8);  // little-endian float32, as OpenAI packs it
  EXPECT_EQ(back[0], 3.0f);
  EXPECT_EQ(back[1], 0.1f);
}

TEST(ModalityAnswers, TranscriptFormats) {
  Transcript t{"hello there", "en", 61.5};
  ModalityReply r;
  encode_transcript(t, "json", r);
  EXPECT_EQ(json::parse(r.body).at("text").as_string(), "hello there");
  EXPECT_EQ(r.usage.audio_ms, 61500);
  encode_transcript(t, "srt", r);
  EXPECT_EQ(r.body, "1\n00:00:00,000 --> 00:01:01,500\nhello there\n\n");
  encode_transcript(t, "vtt", r);
  EXPECT_EQ(r.content_type, "text/vtt; charset=utf-8");
  EXPECT_EQ(r.body.substr(0, 8), "WEBVTT\n\n");
  encode_transcript(t, "text", r);
  EXPECT_EQ(r.body, "hello there\n");
  encode_transcript(t, "verbose_json", r);
  auto v = json::parse(r.body).as_object();
  EXPECT_DOUBLE_EQ(v.at("duration").to_number<double>(), 61.5);
  EXPECT_EQ(v.at("language").as_string(), "en");
}

TEST(ModalityAnswers, ModerationScheme) {
  ModerationVerdict v;
  v.set("violence", 0.9, true);
  v.set("violence", 0.4, false);  // the max stays, the flag too
  v.set("no-such-category", 1.0, true);
  v.flagged = true;
  v.extra.emplace_back("pii", 0.25);
  auto o = json::parse(openai_moderation_json("id1", "m", std::span(&v, 1))).as_object();
  const auto& r = o.at("results").as_array()[0].as_object();
  EXPECT_TRUE(r.at("flagged").as_bool());
  EXPECT_TRUE(r.at("categories").at("violence").as_bool());
  EXPECT_FALSE(r.at("categories").at("hate").as_bool());
  EXPECT_DOUBLE_EQ(r.at("category_scores").at("violence").to_number<double>(), 0.9);
  EXPECT_EQ(r.at("categories").as_object().size(), std::size(kModerationCategories));
  EXPECT_DOUBLE_EQ(r.at("provider_categories").at("pii").to_number<double>(), 0.25);
}

TEST(ModalityPrices, ImagesSecondsCharacters) {
  PriceConfig pc;
  ASSERT_FALSE(quota::set_price_field(pc, "image", "0.04"));
  ASSERT_FALSE(quota::set_price_field(pc, "audio_second", "0.0001"));
  ASSERT_FALSE(quota::set_price_field(pc, "character", "15.00"));
  const quota::Price p = quota::complete(pc);
  Usage u;
  u.images = 3;
  EXPECT_EQ(quota::cost_micros(p, u), 120'000);  // 3 × $0.04
  u = {};
  u.audio_ms = 61'500;
  EXPECT_EQ(quota::cost_micros(p, u), 6'150);  // 61.5 s × $0.0001 = $0.00615
  u = {};
  u.characters = 1000;
  EXPECT_EQ(quota::cost_micros(p, u), 15'000);  // 1000 × $15 / 1M
  // The built-in table knows OpenAI's.
  quota::PriceTable table({});
  ASSERT_NE(table.find("openai", "tts-1"), nullptr);
  EXPECT_EQ(table.find("openai", "tts-1")->character, 15'000'000);
  EXPECT_EQ(table.find("openai", "dall-e-3")->image, 40'000);
}

// --- the OpenAI-compatible codec ---------------------------------------------------------------

class MediaCodec : public ::testing::Test {
 protected:
  std::unique_ptr<Provider> make(std::string kind, std::string base) {
    ProviderConfig cfg;
    cfg.name = "up";
    cfg.kind = kind;
    cfg.api_key.value = "sk-secret";
    auto ep = make_endpoint(base, "", UpstreamTimeouts{});
    EXPECT_TRUE(ep.ok());
    return make_openai_compatible(cfg, *find_vendor(kind), std::move(*ep));
  }
  ModalityCall call(Modality m, const json::object& body, std::string_view model,
                    const Form* form = nullptr) {
    ModalityCall c;
    c.modality = m;
    c.body = &body;
    c.form = form;
    c.upstream_model = model;
    c.ignored = &ignored_;
    return c;
  }
  std::vector<std::string> ignored_;
};

TEST_F(MediaCodec, CapabilitiesFollowTheVendorTable) {
  EXPECT_TRUE(make("openai", "http://h/v1")->capabilities().supports(Modality::speech));
  EXPECT_TRUE(make("groq", "http://h/v1")->capabilities().supports(Modality::transcription));
  EXPECT_FALSE(make("groq", "http://h/v1")->capabilities().supports(Modality::embeddings));
  EXPECT_TRUE(make("mistral", "http://h/v1")->capabilities().supports(Modality::moderation));
  EXPECT_FALSE(make("mistral", "http://h/v1")->capabilities().supports(Modality::speech));
  EXPECT_FALSE(make("deepseek", "http://h/v1")->capabilities().supports(Modality::image_generation));
}

TEST_F(MediaCodec, OpenAiJsonKeepsTheClientsFieldsAndReplacesTheModel) {
  const std::string text = R"({"model":"alias","input":["a","b"],"encoding_format":"base64","x":1})";
  json::object body = json::parse(text).as_object();
  auto p = make("openai", "http://h/v1");
  ModalityCall c = call(Modality::embeddings, body, "text-embedding-3-small");
  c.raw_text = text;
  auto r = p->encode_modality(c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/v1/embeddings");
  auto sent = json::parse(r->body).as_object();
  EXPECT_EQ(sent.at("model").as_string(), "text-embedding-3-small");
  EXPECT_EQ(sent.at("encoding_format").as_string(), "base64");
  EXPECT_EQ(sent.at("x").as_int64(), 1);
  EXPECT_NE(std::string(r->header_block).find("Authorization: Bearer sk-secret"), std::string::npos);
}

TEST_F(MediaCodec, AzureModalitiesUnderTheDeployment) {
  json::object body = json::parse(R"({"model":"a","prompt":"p"})").as_object();
  auto p = make("azure", "https://res.openai.azure.com");
  auto r = p->encode_modality(call(Modality::image_generation, body, "dep 1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/openai/deployments/dep%201/images/generations?api-version=2024-10-21");
}

// Mistral: no encoding_format upstream (the gateway packs base64), dimensions renamed,
// "user" dropped and reported ignored.
TEST_F(MediaCodec, MistralEmbeddings) {
  json::object body = json::parse(
      R"({"model":"a","input":"hi","encoding_format":"base64","dimensions":2,"user":"u"})").as_object();
  auto p = make("mistral", "http://h/v1");
  ModalityCall c = call(Modality::embeddings, body, "mistral-embed");
  auto r = p->encode_modality(c);
  ASSERT_TRUE(r);
  auto sent = json::parse(r->body).as_object();
  EXPECT_FALSE(sent.contains("encoding_format"));
  EXPECT_FALSE(sent.contains("user"));
  EXPECT_EQ(sent.at("output_dimension").as_int64(), 2);
  EXPECT_EQ(ignored_, std::vector<std::string>{"user"});
  auto reply = p->decode_modality(
      c, 0, "application/json",
      R"({"data":[{"index":0,"embedding":[0.5,0.25]}],"usage":{"prompt_tokens":3,"total_tokens":3}})");
  ASSERT_TRUE(reply) << reply.error().message;
  auto out = json::parse(reply->body).as_object();
  EXPECT_TRUE(out.at("data").as_array()[0].at("embedding").is_string());  // base64, as asked
  EXPECT_EQ(reply->usage.prompt_tokens, 3);
}

TEST_F(MediaCodec, MistralModerationMapsToOneScheme) {
  json::object body = json::parse(R"({"input":["a","b"]})").as_object();
  auto p = make("mistral", "http://h/v1");
  ModalityCall c = call(Modality::moderation, body, "mistral-moderation-latest");
  auto reply = p->decode_modality(c, 0, "application/json", R"({"id":"x","model":"m","results":[
    {"categories":{"sexual":false,"hate_and_discrimination":true,"pii":true},
     "category_scores":{"sexual":0.01,"hate_and_discrimination":0.8,"pii":0.7}},
    {"categories":{"selfharm":false},"category_scores":{"selfharm":0.1}}]})");
  ASSERT_TRUE(reply) << reply.error().message;
  auto out = json::parse(reply->body).as_object();
  const auto& r0 = out.at("results").as_array()[0].as_object();
  EXPECT_TRUE(r0.at("flagged").as_bool());
  EXPECT_TRUE(r0.at("categories").at("hate").as_bool());
  EXPECT_DOUBLE_EQ(r0.at("category_scores").at("hate").to_number<double>(), 0.8);
  EXPECT_DOUBLE_EQ(r0.at("provider_categories").at("pii").to_number<double>(), 0.7);
  const auto& r1 = out.at("results").as_array()[1].as_object();
  EXPECT_FALSE(r1.at("flagged").as_bool());
  EXPECT_DOUBLE_EQ(r1.at("category_scores").at("self-harm").to_number<double>(), 0.1);
  EXPECT_FALSE(p->decode_modality(c, 0, "application/json", "{}"));
}

// Uploads are re-written part by part with the model replaced; the answer's seconds are usage.
TEST_F(MediaCodec, TranscriptionUpload) {
  Form form;
  form.parts.push_back({"model", "", "", "alias"});
  form.parts.push_back({"file", "a.wav", "audio/wav", std::string_view("RI\0FF", 5)});
  form.parts.push_back({"response_format", "", "", "srt"});
  json::object body = json::parse(R"({"model":"alias","response_format":"srt"})").as_object();
  auto p = make("mistral", "http://h/v1");
  ModalityCall c = call(Modality::transcription, body, "voxtral-mini-latest", &form);
  auto r = p->encode_modality(c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->path, "/v1/audio/transcriptions");
  ASSERT_EQ(r->headers.size(), 1u);
  auto boundary = multipart_boundary(r->headers[0].second);
  ASSERT_TRUE(boundary);
  MultipartParser parser(*boundary);
  auto sent = parser.finish(r->body);
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->find("model")->data, "voxtral-mini-latest");
  EXPECT_EQ(sent->find("file")->data, std::string_view("RI\0FF", 5));
  EXPECT_EQ(sent->find("response_format"), nullptr);  // Mistral answers JSON only
  EXPECT_EQ(std::string(r->header_block).find("Content-Type"), std::string::npos);
  auto reply = p->decode_modality(c, 0, "application/json",
                                  R"({"text":"hi","language":"en","usage":{"prompt_audio_seconds":2}})");
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->body, "1\n00:00:00,000 --> 00:00:02,000\nhi\n\n");
  EXPECT_EQ(reply->usage.audio_ms, 2000);
  // OpenAI: passed through, whatever its format; seconds from usage.
  auto openai = make("openai", "http://h/v1");
  json::object plain = json::parse(R"({"model":"alias"})").as_object();
  ModalityCall oc = call(Modality::transcription, plain, "whisper-1", &form);
  auto pass = openai->decode_modality(oc, 0, "application/json",
                                      R"({"text":"hi","usage":{"type":"duration","seconds":3}})");
  ASSERT_TRUE(pass);
  EXPECT_EQ(pass->usage.audio_ms, 3000);
  auto text = openai->decode_modality(oc, 0, "text/plain", "hi\n");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->body, "hi\n");
  EXPECT_EQ(text->content_type, "text/plain");
}

TEST_F(MediaCodec, ImagesCountAndBadAnswers) {
  json::object body = json::parse(R"({"model":"a","prompt":"p","n":2})").as_object();
  auto p = make("openai", "http://h/v1");
  ModalityCall c = call(Modality::image_generation, body, "dall-e-3");
  auto reply = p->decode_modality(c, 0, "application/json",
                                  R"({"created":1,"data":[{"url":"u1"},{"url":"u2"}]})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->usage.images, 2);
  // Commas, brackets and quotes inside strings and nested values do not count as items.
  auto tricky = p->decode_modality(
      c, 0, "application/json",
      R"({"created":1,"data":[{"url":"a,b]","x":[1,2]},{"b64_json":"q\"],["}],)"
      R"("usage":{"input_tokens":3,"output_tokens":4}})");
  ASSERT_TRUE(tricky) << tricky.error().message;
  EXPECT_EQ(tricky->usage.images, 2);
  EXPECT_EQ(tricky->usage.prompt_tokens, 3);
  EXPECT_EQ(tricky->usage.total_tokens, 7);
  auto empty = p->decode_modality(c, 0, "application/json", R"({"created":1,"data":[ ]})");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->usage.images, 0);
  EXPECT_FALSE(p->decode_modality(c, 0, "application/json", R"({"data":{"url":"u"}})"));
  auto bad = p->decode_modality(c, 0, "application/json", "<html>");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().status, 502);
  EXPECT_EQ(bad.error().message.find("sk-secret"), std::string::npos);
}

}  // namespace
}  // namespace torii

namespace torii {
namespace {

TEST(ModalityRules, ConditionsReadTheModality) {
  RuleCondition c;
  c.subject = RuleCondition::Subject::modality;
  c.op = RuleCondition::Op::in;
  c.values = {"speech", "image_generation"};
  routing::RuleInput in;
  EXPECT_FALSE(routing::matches(c, in));  // chat by default
  in.modality = "speech";
  EXPECT_TRUE(routing::matches(c, in));
  c.negate = true;
  EXPECT_FALSE(routing::matches(c, in));
}

TEST(ModalityRules, TheLoaderKnowsTheNames) {
  const std::string base =
      "providers: [{name: p, kind: openai-compatible, base_url: 'http://127.0.0.1:9/v1'}]\n"
      "authorization:\n  rules:\n    - {id: r, when: [{modality: ";
  auto ok = parse_config(base + "[speech, embeddings]}]}\n", "t.yaml");
  ASSERT_TRUE(ok) << ok.error().message;
  const RuleCondition& c = ok->authorization.rules.at(0).when.at(0);
  EXPECT_EQ(c.subject, RuleCondition::Subject::modality);
  EXPECT_EQ(c.values, (std::vector<std::string>{"speech", "embeddings"}));
  auto bad = parse_config(base + "video}]}\n", "t.yaml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("got 'video'"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace torii
