// The embeddings modality of the native adapters (Cohere /v2/embed, Bedrock InvokeModel with
// Titan and Cohere embed models, Ollama /api/embed): the exact upstream request for an
// OpenAI-shaped /v1/embeddings body, the OpenAI-shaped answer (floats and base64), what is
// refused (400 naming the field) or ignored, and undecodable upstream answers (502). The
// semantic cache's encode_embeddings / decode_embeddings share the code.
#include <cstring>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/base64.h"
#include "providers/bedrock/bedrock.h"
#include "providers/bedrock/sigv4.h"
#include "providers/cohere.h"
#include "providers/ollama.h"

namespace torii {
namespace {
namespace json = boost::json;

std::time_t fixed_clock() { return 1440938160; }  // 2015-08-30T12:36:00Z

std::unique_ptr<Provider> cohere() {
  ProviderConfig c;
  c.name = "co";
  c.kind = "cohere";
  c.api_key.value = "test-key-1";
  auto p = make_cohere(c, Endpoint{});
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

std::unique_ptr<Provider> bedrock(std::string session_token = {}) {
  ProviderConfig c;
  c.name = "aws";
  c.kind = "bedrock";
  c.region = "us-east-1";
  c.aws_access_key_id.value = "AKIDEXAMPLE";
  c.aws_secret_access_key.value = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  c.aws_session_token.value = std::move(session_token);
  auto ep = make_endpoint(std::string(kBedrockPlaceholderBaseUrl), "", {});
  EXPECT_TRUE(ep.ok());
  auto p = make_bedrock_with_clock(c, std::move(*ep), &fixed_clock);
  EXPECT_TRUE(p.ok());
  return std::move(*p);
}

std::unique_ptr<Provider> ollama(std::vector<std::pair<std::string, std::string>> options = {}) {
  ProviderConfig c;
  c.name = "ol";
  c.kind = "ollama";
  for (auto& [k, v] : options) c.options[k] = v;
  auto p = make_ollama(c, Endpoint{});
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return std::move(*p);
}

// One /v1/embeddings call: the body, the model that goes upstream, the ignored list.
struct Call {
  json::object body;
  std::vector<std::string> ignored;
  ModalityCall call;
  Call(std::string_view text, std::string_view model) : body(json::parse(text).as_object()) {
    call.modality = Modality::embeddings;
    call.body = &body;
    call.upstream_model = model;
    call.ignored = &ignored;
  }
};

Result<ModalityReply> decode(const Provider& p, const Call& c, std::string body) {
  return p.decode_modality(c.call, 0, "application/json", std::move(body));
}

// The vectors of an OpenAI answer (floats or base64 float32s).
std::vector<std::vector<float>> vectors_of(const json::object& answer) {
  std::vector<std::vector<float>> out;
  for (const auto& item : answer.at("data").as_array()) {
    auto& v = out.emplace_back();
    const json::value& e = item.at("embedding");
    if (e.is_string()) {
      std::string bytes;
      EXPECT_TRUE(base64_decode(e.get_string(), bytes));
      v.resize(bytes.size() / 4);
      std::memcpy(v.data(), bytes.data(), v.size() * 4);  // little-endian, as the test host
    } else {
      for (const auto& x : e.as_array()) v.push_back(static_cast<float>(x.to_number<double>()));
    }
  }
  return out;
}

void expect_400(const Result<UpstreamRequest>& r, std::string_view param, std::string_view says) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().param, param);
  EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
}

void expect_502(const Result<ModalityReply>& r) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().status, 502);
  EXPECT_NE(r.error().message.find("returned unusable embeddings"), std::string::npos)
      << r.error().message;
}

// --- Cohere ----------------------------------------------------------------------------------

TEST(CohereEmbeddings, EncodesTheV2EmbedRequest) {
  auto p = cohere();
  EXPECT_TRUE(p->capabilities().embeddings);
  EXPECT_TRUE(p->capabilities().supports(Modality::embeddings));
  Call c(R"({"model":"co/embed","input":["hello world","second"],"dimensions":512,)"
         R"("encoding_format":"base64","user":"u-1","input_type":"search_query"})",
         "embed-v4.0");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/v2/embed");
  EXPECT_NE(r->header_block.find("Authorization: Bearer test-key-1\r\n"), std::string::npos);
  EXPECT_NE(r->header_block.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_EQ(r->body,
            R"({"model":"embed-v4.0","texts":["hello world","second"],"input_type":"search_query",)"
            R"("embedding_types":["float"],"output_dimension":512})");
  EXPECT_EQ(c.ignored, std::vector<std::string>{"user"});
}

TEST(CohereEmbeddings, InputTypeDefaultsToSearchDocument) {
  auto p = cohere();
  Call c(R"({"model":"m","input":"one text"})", "embed-english-v3.0");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, R"({"model":"embed-english-v3.0","texts":["one text"],)"
                     R"("input_type":"search_document","embedding_types":["float"]})");
  EXPECT_TRUE(c.ignored.empty());
}

TEST(CohereEmbeddings, RefusesWhatItCannotTake) {
  auto p = cohere();
  expect_400(p->encode_modality(Call(R"({"input":[1,2,3]})", "m").call), "input", "token ids");
  expect_400(p->encode_modality(Call(R"({"input":[[1,2],[3]]})", "m").call), "input",
             "token ids");
  expect_400(p->encode_modality(Call(R"({"input":[]})", "m").call), "input", "at least one");
  expect_400(p->encode_modality(Call(R"({"input":"a","input_type":"image"})", "m").call),
             "input_type", "search_document");
  expect_400(p->encode_modality(Call(R"({"input":"a","input_type":7})", "m").call), "input_type",
             "search_query");
  expect_400(p->encode_modality(Call(R"({"input":"a","dimensions":0})", "m").call), "dimensions",
             "positive integer");
  expect_400(p->encode_modality(Call(R"({"input":"a","dimensions":"256"})", "m").call),
             "dimensions", "positive integer");
  expect_400(p->encode_modality(Call(R"({"input":"a","encoding_format":"int8"})", "m").call),
             "encoding_format", "float or base64");
  json::array many;
  for (int i = 0; i < 97; ++i) many.emplace_back("t" + std::to_string(i));
  Call big("{}", "m");
  big.body["input"] = many;
  expect_400(p->encode_modality(big.call), "input", "96");
  many.pop_back();
  big.body["input"] = many;
  EXPECT_TRUE(p->encode_modality(big.call).ok());
}

TEST(CohereEmbeddings, DecodesToOpenAiShape) {
  auto p = cohere();
  Call c(R"({"input":["a","b"]})", "embed-v4.0");
  auto reply = decode(*p, c,
                      R"({"id":"e1","embeddings":{"float":[[0.5,0.25],[1,-2]]},"texts":["a","b"],)"
                      R"("meta":{"api_version":{"version":"2"},"billed_units":{"input_tokens":7}},)"
                      R"("response_type":"embeddings_by_type"})");
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_FALSE(reply->next);
  EXPECT_EQ(reply->content_type, "application/json");
  EXPECT_EQ(reply->usage.prompt_tokens, 7);
  EXPECT_EQ(reply->usage.total_tokens, 7);
  EXPECT_EQ(reply->body,
            R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5,0.25]},)"
            R"({"object":"embedding","index":1,"embedding":[1,-2]}],"model":"embed-v4.0",)"
            R"("usage":{"prompt_tokens":7,"total_tokens":7}})");
}

TEST(CohereEmbeddings, Base64PacksTheFloats) {
  auto p = cohere();
  Call c(R"({"input":"a","encoding_format":"base64"})", "embed-v4.0");
  auto reply = decode(*p, c, R"({"embeddings":{"float":[[0.5,-0.125,3]]},"meta":{}})");
  ASSERT_TRUE(reply.ok());
  auto answer = json::parse(reply->body).as_object();
  EXPECT_TRUE(answer.at("data").at(0).at("embedding").is_string());
  EXPECT_EQ(vectors_of(answer), (std::vector<std::vector<float>>{{0.5f, -0.125f, 3.0f}}));
  // No billed units: no usage from the provider (the answer says 0).
  EXPECT_EQ(reply->usage.prompt_tokens, -1);
}

TEST(CohereEmbeddings, BadAnswersAre502) {
  auto p = cohere();
  Call c(R"({"input":["a","b"]})", "m");
  expect_502(decode(*p, c, "not json"));
  expect_502(decode(*p, c, R"({"embeddings":{"int8":[[1],[2]]}})"));
  expect_502(decode(*p, c, R"({"embeddings":{"float":[[0.1,0.2]]}})"));      // 1 for 2 inputs
  expect_502(decode(*p, c, R"({"embeddings":{"float":[[0.1,0.2],[0.3]]}})"));  // dimensions
  expect_502(decode(*p, c, R"({"embeddings":{"float":[[0.1,"x"],[0.3,0.4]]}})"));
  expect_502(decode(*p, c, R"({"embeddings":{"float":[[],[]]}})"));
  // The older embeddings_floats shape is read too.
  EXPECT_TRUE(decode(*p, c, R"({"embeddings":[[0.1,0.2],[0.3,0.4]]})").ok());
}

TEST(CohereEmbeddings, TheSemanticCacheSharesTheCodec) {
  auto p = cohere();
  const std::string inputs[1] = {"how do I reset my password"};
  auto r = p->encode_embeddings(EmbeddingsCall{"embed-v4.0", inputs, 256});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/v2/embed");
  EXPECT_EQ(r->body, R"({"model":"embed-v4.0","texts":["how do I reset my password"],)"
                     R"("input_type":"search_document","embedding_types":["float"],)"
                     R"("output_dimension":256})");
  auto d = p->decode_embeddings(R"({"embeddings":{"float":[[0.6,0.8]]},)"
                                R"("meta":{"billed_units":{"input_tokens":5}}})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->vectors, (std::vector<std::vector<float>>{{0.6f, 0.8f}}));
  EXPECT_EQ(d->usage.prompt_tokens, 5);
  EXPECT_FALSE(p->decode_embeddings(R"({"embeddings":{}})").ok());
}

TEST(CohereEmbeddings, OtherModalitiesAreNotServed) {
  auto p = cohere();
  Call c(R"({"prompt":"a cat"})", "m");
  c.call.modality = Modality::image_generation;
  EXPECT_FALSE(p->capabilities().supports(Modality::image_generation));
  EXPECT_FALSE(p->encode_modality(c.call).ok());
}

// --- Bedrock ---------------------------------------------------------------------------------

TEST(BedrockEmbeddings, TitanV2IsOneSignedInvokeModel) {
  auto p = bedrock("session-token-1");
  EXPECT_TRUE(p->capabilities().supports(Modality::embeddings));
  Call c(R"({"input":"hello","dimensions":256,"input_type":"search_query","user":"u"})",
         "amazon.titan-embed-text-v2:0");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
  EXPECT_EQ(r->body, R"({"inputText":"hello","dimensions":256,"normalize":true})");
  EXPECT_NE(r->header_block.find("Accept: application/json\r\n"), std::string::npos);
  EXPECT_EQ(c.ignored, (std::vector<std::string>{"user", "input_type"}));
  EXPECT_EQ(find_header(r->headers, "x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(find_header(r->headers, "x-amz-security-token"), "session-token-1");

  // The signature, computed apart from the provider over what goes on the wire.
  aws::SigV4Request sr;
  sr.host = "bedrock-runtime.us-east-1.amazonaws.com";
  sr.path = r->path;
  sr.headers = {{"content-type", "application/json"}};
  sr.payload = r->body;
  auto expected = aws::sign_v4(sr, {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                    "session-token-1"},
                               "us-east-1", "bedrock", "20150830T123600Z");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(find_header(r->headers, "authorization"), expected->authorization);
  EXPECT_TRUE(find_header(r->headers, "authorization")
                  .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/"
                               "bedrock/aws4_request, SignedHeaders=content-type;host;"));
  for (const auto& [k, v] : r->headers) EXPECT_EQ(v.find("wJalrXUtnFEMI"), std::string::npos);
}

TEST(BedrockEmbeddings, TitanTakesOneInputPerCall) {
  auto p = bedrock();
  Call c(R"({"input":["a","b"]})", "amazon.titan-embed-text-v2:0");
  expect_400(p->encode_modality(c.call), "input", "one input per call");
  // A one-element list is one input.
  Call one(R"({"input":["a"]})", "amazon.titan-embed-text-v2:0");
  auto r = p->encode_modality(one.call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, R"({"inputText":"a","normalize":true})");
}

TEST(BedrockEmbeddings, TitanDimensionsPerModel) {
  auto p = bedrock();
  expect_400(p->encode_modality(Call(R"({"input":"a","dimensions":300})",
                                     "amazon.titan-embed-text-v2:0").call),
             "dimensions", "256, 512 or 1024");
  // G1 has one size.
  expect_400(p->encode_modality(Call(R"({"input":"a","dimensions":256})",
                                     "amazon.titan-embed-text-v1").call),
             "dimensions", "one size");
  auto g1 = p->encode_modality(Call(R"({"input":"a"})", "amazon.titan-embed-g1-text-02").call);
  ASSERT_TRUE(g1.ok());
  EXPECT_EQ(g1->body, R"({"inputText":"a"})");
  // The multimodal Titan sizes its vectors with embeddingConfig.
  auto mm = p->encode_modality(Call(R"({"input":"a","dimensions":384})",
                                    "amazon.titan-embed-image-v1").call);
  ASSERT_TRUE(mm.ok());
  EXPECT_EQ(mm->body, R"({"inputText":"a","embeddingConfig":{"outputEmbeddingLength":384}})");
  expect_400(p->encode_modality(Call(R"({"input":"a","dimensions":512})",
                                     "amazon.titan-embed-image-v1").call),
             "dimensions", "256, 384 or 1024");
}

TEST(BedrockEmbeddings, CohereEmbedTakesBatches) {
  auto p = bedrock();
  Call c(R"({"input":["a","b"],"input_type":"clustering"})", "cohere.embed-english-v3");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/model/cohere.embed-english-v3/invoke");
  EXPECT_EQ(r->body, R"({"texts":["a","b"],"input_type":"clustering"})");
  EXPECT_TRUE(c.ignored.empty());
  // v3 has one size; v4 (here through a cross-region profile) takes output_dimension.
  expect_400(p->encode_modality(Call(R"({"input":"a","dimensions":512})",
                                     "cohere.embed-multilingual-v3").call),
             "dimensions", "one size");
  auto v4 = p->encode_modality(Call(R"({"input":"a","dimensions":512})", "us.cohere.embed-v4:0").call);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->path, "/model/us.cohere.embed-v4%3A0/invoke");
  EXPECT_EQ(v4->body, R"({"texts":["a"],"input_type":"search_document","output_dimension":512})");
  expect_400(p->encode_modality(Call(R"({"input":"a","input_type":"query"})",
                                     "cohere.embed-v4:0").call),
             "input_type", "search_document");
}

TEST(BedrockEmbeddings, RefusesModelsAndInputsItCannotEmbedWith) {
  auto p = bedrock();
  expect_400(p->encode_modality(Call(R"({"input":"a"})", "meta.llama3-8b-instruct-v1:0").call),
             "model", "Titan and Cohere");
  expect_400(p->encode_modality(Call(R"({"input":[5,6]})", "amazon.titan-embed-text-v2:0").call),
             "input", "token ids");
}

TEST(BedrockEmbeddings, DecodesTitanAndCohereAnswers) {
  auto p = bedrock();
  Call titan(R"({"input":"a"})", "amazon.titan-embed-text-v2:0");
  auto t = decode(*p, titan,
                  R"({"embedding":[0.6,0.8],"inputTextTokenCount":3,)"
                  R"("embeddingsByType":{"float":[0.6,0.8]}})");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->usage.prompt_tokens, 3);
  EXPECT_EQ(t->body,
            R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],)"
            R"("model":"amazon.titan-embed-text-v2:0","usage":{"prompt_tokens":3,"total_tokens":3}})");

  Call co(R"({"input":["a","b"],"encoding_format":"base64"})", "cohere.embed-english-v3");
  auto floats = decode(*p, co, R"({"embeddings":[[1,0],[0,1]],"id":"x","texts":["a","b"]})");
  ASSERT_TRUE(floats.ok());
  EXPECT_EQ(floats->usage.prompt_tokens, -1);  // Bedrock says it in a header only
  EXPECT_EQ(vectors_of(json::parse(floats->body).as_object()),
            (std::vector<std::vector<float>>{{1, 0}, {0, 1}}));
  auto by_type = decode(*p, co, R"({"embeddings":{"float":[[1,0],[0,1]]}})");
  ASSERT_TRUE(by_type.ok());
  EXPECT_EQ(by_type->body, floats->body);
}

TEST(BedrockEmbeddings, BadAnswersAre502) {
  auto p = bedrock();
  Call titan(R"({"input":"a"})", "amazon.titan-embed-text-v2:0");
  expect_502(decode(*p, titan, R"({"embedding":"x"})"));
  expect_502(decode(*p, titan, R"({"embedding":[]})"));
  expect_502(decode(*p, titan, R"([1,2])"));
  Call co(R"({"input":["a","b"]})", "cohere.embed-english-v3");
  expect_502(decode(*p, co, R"({"embeddings":[[1,0]]})"));
  expect_502(decode(*p, co, R"({"message":"nothing here"})"));
}

TEST(BedrockEmbeddings, TheSemanticCacheSharesTheCodec) {
  auto p = bedrock();
  EXPECT_TRUE(p->capabilities().embeddings);
  const std::string inputs[1] = {"reset my password"};
  auto r = p->encode_embeddings(EmbeddingsCall{"amazon.titan-embed-text-v2:0", inputs, 512});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->path, "/model/amazon.titan-embed-text-v2%3A0/invoke");
  EXPECT_EQ(r->body, R"({"inputText":"reset my password","dimensions":512,"normalize":true})");
  EXPECT_FALSE(find_header(r->headers, "authorization").empty());
  auto d = p->decode_embeddings(R"({"embedding":[0.6,0.8],"inputTextTokenCount":4})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->vectors, (std::vector<std::vector<float>>{{0.6f, 0.8f}}));
  EXPECT_EQ(d->usage.prompt_tokens, 4);
  EXPECT_FALSE(p->encode_embeddings(EmbeddingsCall{"mistral.mistral-large", inputs, 0}).ok());
}

// --- Ollama ----------------------------------------------------------------------------------

TEST(OllamaEmbeddings, EncodesApiEmbed) {
  auto p = ollama();
  EXPECT_TRUE(p->capabilities().supports(Modality::embeddings));
  Call c(R"({"model":"x","input":["a","b"],"dimensions":64,"user":"u","input_type":"q"})",
         "nomic-embed-text");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->path, "/api/embed");
  EXPECT_EQ(r->header_block.find("Authorization"), std::string::npos);
  EXPECT_EQ(r->body, R"({"model":"nomic-embed-text","input":["a","b"],"dimensions":64})");
  EXPECT_EQ(c.ignored, (std::vector<std::string>{"user", "input_type"}));
  expect_400(p->encode_modality(Call(R"({"input":[1,2]})", "m").call), "input", "token ids");
}

TEST(OllamaEmbeddings, SendsTheConfiguredOptionsAndKeepAlive) {
  auto p = ollama({{"num_ctx", "2048"}, {"keep_alive", "5m"}});
  Call c(R"({"input":"a"})", "nomic-embed-text");
  auto r = p->encode_modality(c.call);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, R"({"model":"nomic-embed-text","input":["a"],"options":{"num_ctx":2048},)"
                     R"("keep_alive":"5m"})");
}

TEST(OllamaEmbeddings, DecodesWithPromptEvalCount) {
  auto p = ollama();
  Call c(R"({"input":["a","b"]})", "nomic-embed-text");
  auto reply = decode(*p, c, R"({"model":"nomic-embed-text","embeddings":[[0.1,0.2],[0.3,0.4]],)"
                             R"("total_duration":10,"prompt_eval_count":9})");
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->usage.prompt_tokens, 9);
  auto answer = json::parse(reply->body).as_object();
  EXPECT_EQ(answer.at("usage").at("total_tokens").as_int64(), 9);
  EXPECT_EQ(vectors_of(answer), (std::vector<std::vector<float>>{{0.1f, 0.2f}, {0.3f, 0.4f}}));
  expect_502(decode(*p, c, R"({"embeddings":[[0.1,0.2]]})"));
  expect_502(decode(*p, c, R"({"embeddings":"no"})"));
  auto failed = decode(*p, c, R"({"error":"model is loading"})");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().status, 502);
  EXPECT_NE(failed.error().message.find("model is loading"), std::string::npos);
}

}  // namespace
}  // namespace torii
