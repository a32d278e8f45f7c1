// The semantic cache's false-hit guard (src/cache/guard.h): one test per rule, each with the
// near-misses it must stop and the paraphrases it must let through.
#include <gtest/gtest.h>

#include <random>

#include "cache/guard.h"

namespace torii::cache {
namespace {

// Expects a difference of `reason`, both ways round.
void expect_differ(std::string_view a, std::string_view b, std::string_view reason) {
  const GuardVerdict ab = same_meaning(a, b), ba = same_meaning(b, a);
  EXPECT_FALSE(ab.same) << a << " | " << b;
  EXPECT_EQ(ab.reason, reason) << a << " | " << b;
  EXPECT_FALSE(ba.same) << b << " | " << a;
  EXPECT_EQ(ba.reason, reason) << b << " | " << a;
}

void expect_same(std::string_view a, std::string_view b) {
  const GuardVerdict ab = same_meaning(a, b), ba = same_meaning(b, a);
  EXPECT_TRUE(ab.same) << a << " | " << b << ": " << ab.reason;
  EXPECT_TRUE(ba.same) << b << " | " << a << ": " << ba.reason;
  EXPECT_TRUE(ab.reason.empty());
}

TEST(CacheGuard, IdenticalAndEmptyTextsAreSame) {
  expect_same("", "");
  expect_same("How do I reset my password?", "How do I reset my password?");
  expect_same("   ", "!!!");
}

TEST(CacheGuard, NegationsAreCounted) {
  expect_differ("Why does my code compile?", "Why doesn't my code compile?", "negation");
  expect_differ("Which foods are safe for dogs?", "Which foods are not safe for dogs?",
                "negation");
  expect_differ("Recipes with eggs", "Recipes without eggs", "negation");
  expect_differ("Stocks that pay dividends", "Stocks that never pay dividends", "negation");
  expect_differ("I can log in", "I cannot log in", "negation");
  expect_differ("I can log in", "I can’t log in", "negation");  // typographic apostrophe
  expect_differ("I can log in", "I cant log in", "negation");   // typed without it
  expect_differ("Is there a refund?", "Is there nothing to refund?", "negation");
  expect_differ("My card works abroad", "My card no longer works abroad", "negation");
  expect_differ("Who can see my posts?", "Nobody can see my posts?", "negation");
  // One negation against two differs; equal counts do not.
  expect_differ("Don't delete the file", "Don't never delete the file", "negation");
  expect_same("Why doesn't my build work?", "Why does my build not work?");
  expect_same("I can't sign in", "I cannot sign in");
}

TEST(CacheGuard, PolarityOnOneAxis) {
  expect_differ("How do I enable two-factor authentication?",
                "How do I disable two-factor authentication?", "polarity");
  expect_differ("How can I increase my credit limit?", "How can I lower my credit limit?",
                "polarity");
  expect_differ("What should I eat before a workout?", "What should I eat after a workout?",
                "polarity");
  expect_differ("Add a user to the admin group", "Remove a user from the admin group",
                "polarity");
  expect_differ("Allow cookies on this site", "Block cookies on this site", "polarity");
  expect_differ("When does the market open?", "When does the market close?", "polarity");
  expect_differ("Encrypt the backup", "Decrypt the backup", "polarity");
  expect_differ("Should I buy bitcoin?", "Should I sell bitcoin?", "polarity");
  expect_differ("Return true when empty", "Return false when empty", "polarity");
  expect_differ("Sort by price, ascending", "Sort by price, descending", "polarity");
  expect_differ("What is the maximum dose?", "What is the minimum dose?", "polarity");
  // Inflected forms and phrasal verbs, the particle after the object.
  expect_differ("Enabled accounts", "Disabled accounts", "polarity");
  expect_differ("Why was the job stopped?", "Why was the job started?", "polarity");
  expect_differ("Turn the kitchen lights on", "Turn the kitchen lights off", "polarity");
  expect_differ("How do I log in?", "How do I log out?", "polarity");
  expect_differ("Shut down the server", "Boot up the server", "polarity");
  // Same pole, different words: same.
  expect_same("How do I enable dark mode?", "How do I turn on dark mode?");
  expect_same("How do I delete my account?", "How do I remove my account?");
  expect_same("Cancelling my booking", "How do I cancel a booking?");
}

TEST(CacheGuard, PolarityDefaultPole) {
  // Naming nothing reads as the default pole (enable, add, allow, start...).
  expect_same("How do I set up 2FA?", "How do I enable 2FA?");
  expect_differ("How do I set up 2FA?", "How do I disable 2FA?", "polarity");
  expect_same("Tell me about Rust", "Tell me more about Rust");
  expect_differ("A spicy chili recipe", "A less spicy chili recipe", "polarity");
  // Axes with no default: naming a pole against none differs.
  expect_differ("What to eat around a workout", "What to eat after a workout", "polarity");
  expect_differ("What to eat around a workout", "What to eat before a workout", "polarity");
  expect_differ("Meetings this week", "Meetings next week", "polarity");
  // Both poles against one differs.
  expect_differ("Turn the fan on and off", "Turn the fan on", "polarity");
}

TEST(CacheGuard, NumbersAsAMultiset) {
  expect_differ("Top 5 cities to visit in Italy", "Top 10 cities to visit in Italy", "number");
  expect_differ("Convert 100 USD to EUR", "Convert 1,000 USD to EUR", "number");
  expect_differ("What was inflation in 2022?", "What was inflation in 2023?", "number");
  expect_differ("Retry 3 times", "Retry five times", "number");
  expect_differ("A table for two", "A table for two or three", "number");
  expect_differ("Set a 10 minute timer", "Set a timer", "number");
  expect_differ("Take the second exit", "Take the third exit", "number");
  expect_differ("Bake for 25 minutes", "Bake for twenty minutes", "number");
  expect_differ("Book a room for 2 nights", "Book a room for 2 nights and 2 adults",
                "number");  // a multiset: 2 once is not 2 twice
  expect_differ("A 3-day trip to Rome", "A 5-day trip to Rome", "number");
  // Normalised: thousands separators, trailing decimal zeros, leading zeros, words.
  expect_same("Transfer $1,000", "Transfer 1000 dollars");
  expect_same("Split 2.50 euros", "Split 2.5 euros");
  expect_same("Room 007", "Room 7");
  expect_same("Top five cities", "Top 5 cities");
  expect_same("Twenty-five push-ups", "25 push-ups");
  expect_same("Two thousand five hundred steps", "2500 steps");
  expect_same("One hundred and six days", "106 days");
  expect_same("Five million people", "5 million people");
  expect_same("5,000,000 people", "5 million people");
  expect_same("The 3rd floor", "The third floor");
  expect_same("A 10km run", "A 10 km run");
  expect_same("Which one is better?", "Which is better?");  // a pronoun, not a number
  expect_same("Wait a second", "Wait a moment");
  expect_same("Order: 3, 1, 2", "Order: 1, 2, 3");  // multisets ignore order
}

TEST(CacheGuard, EntitiesAsASet) {
  expect_differ("How do I enable 2FA on GitHub?", "How do I enable 2FA on GitLab?", "entity");
  expect_differ("Capital gains tax in Germany", "Capital gains tax in France", "entity");
  expect_differ("Deploy a Flask app to AWS", "Deploy a Flask app to Azure", "entity");
  expect_differ("Convert a DataFrame to JSON", "Convert a DataFrame to CSV", "entity");
  expect_differ("Compare GPT-4 and Claude", "Compare GPT-5 and Claude", "entity");
  expect_differ("Upload to S3", "Upload to GCS", "entity");
  expect_differ("What does os.path do?", "What does os.walk do?", "entity");
  expect_differ("Is the iPhone waterproof?", "Is the Pixel waterproof?", "entity");
  expect_differ("Hotels near the station in Paris", "Hotels near the station", "entity");
  // A capitalised word opening a sentence may be a name: it counts against another such word.
  expect_differ("Paris: best hotels near the station", "Rome: best hotels near the station",
                "entity");
  // Case-insensitive, in any position, possessives folded.
  expect_same("Hotels in Paris", "hotels in paris");
  expect_same("Paris hotels", "Hotels in Paris");
  expect_same("Is Google's search down?", "Is the search of Google down?");
  expect_same("Explain TCP vs UDP", "Explain UDP vs TCP");
  // Opening words are not names: commands, questions, a verb before its object.
  expect_same("Reset my password please", "Please help me recover my password");
  expect_same("Move 1000 dollars into savings", "Transfer 1000 dollars into savings");
  // Shouting and Title Case say nothing about names.
  expect_same("HOW DO I RESET MY PASSWORD", "how do i reset my password?");
  expect_same("How To Reset My Password Quickly", "how to reset my password quickly");
}

TEST(CacheGuard, QuotedStringsExactly) {
  expect_differ(R"(What does the error "connection refused" mean?)",
                R"(What does the error "connection reset" mean?)", "quoted");
  expect_differ("Translate 'good morning' into Spanish", "Translate 'good night' into Spanish",
                "quoted");
  expect_differ("Find files named `config.yaml`", "Find files named `settings.yaml`", "quoted");
  expect_differ("Is “free shipping” included?", "Is “express shipping” included?", "quoted");
  expect_differ("Search for «café»", "Search for «cafe»", "quoted");  // UTF-8 kept as is
  expect_differ("Run ```ls -la``` here", "Run ```ls -l``` here", "quoted");
  expect_differ(R"(Match "abc")", R"(Match "ABC")", "quoted");  // exact: case counts
  // What a quote holds is compared as a quote only, never as words, numbers or names.
  expect_differ(R"(Search for "error 404")", R"(Search for "error 500")", "quoted");
  expect_differ(R"(Grep "not found")", R"(Grep "found")", "quoted");
  // Apostrophes are not quotes.
  expect_same("Don't reset the users' settings", "Don't reset the users' settings please");
  expect_same("It's the user's 'home' folder", "The 'home' folder of the user, it's");
  // A set: order and repetition do not matter.
  expect_same(R"(Replace "a" and "b")", R"(Replace "b" and "a" and "a")");
  // An unclosed quote is plain text.
  expect_same(R"(The 5" screen)", R"(The 5" screen, please)");
}

TEST(CacheGuard, ParaphrasesPass) {
  expect_same("How do I reset my password?", "How can I recover my password?");
  expect_same("Please help me update my email address.", "Update my email address, please!");
  expect_same("How do I reverse a list in Python?", "Reverse a list in Python: how?");
  expect_same("Explain the difference between TCP and UDP.",
              "What is the difference between UDP and TCP?");
  expect_same("Book a table for two at an Italian restaurant",
              "Reserve an Italian restaurant table for 2");
  expect_same("When does check-in start at the hotel?", "At the hotel, when does check-in start?");
  expect_same("Summarize this article in three bullet points.",
              "Give me a 3 bullet point summary of this article.");
  expect_same("What's the weather like in Paris in April?",
              "In April, what is the weather like in Paris?");
  expect_same("Is it safe to eat raw cookie dough?", "Can I safely eat raw cookie dough?");
  expect_same("how do i   merge two branches in git", "How to merge 2 git branches???");
}

TEST(CacheGuard, FirstDifferenceIsReported) {
  // Negation is checked first, then polarity, numbers, names and quotes.
  EXPECT_EQ(same_meaning("Don't enable 2FA on GitHub", "Enable 2FA on GitHub").reason, "negation");
  EXPECT_EQ(same_meaning("Disable it 3 times", "Enable it 5 times").reason, "polarity");
  EXPECT_EQ(same_meaning("5 tips for Rome", "6 tips for Paris").reason, "number");
}

TEST(CacheGuard, ArbitraryBytesAreSafeAndSymmetric) {
  // Fragments that exercise every scanner path, glued at random, and raw random bytes.
  const char* pieces[] = {"\"", "'", "`", "```", "\xE2\x80\x9C", "\xE2\x80\x9D", "\xE2\x80\x99",
                          "\xC2\xAB", "\xC2\xBB", "\xE2", "\xC2", "\xFF", "don't", "Paris",
                          "GPT-4", "1,000", "2.50", "3-day", "twenty-five", "one", "hundred",
                          "and", "turn", "off", "on", "not", ".", "!", ":", "\n", " ", "-", ",",
                          "_", "x86_64", "iPhone", "10km", "3rd", "second", "HOW", "enabled"};
  std::mt19937 rng(1);
  for (int round = 0; round < 3000; ++round) {
    std::string a, b;
    for (std::string* s : {&a, &b}) {
      const int n = static_cast<int>(rng() % 24);
      for (int i = 0; i < n; ++i) {
        if (round % 3 == 0) *s += static_cast<char>(rng() % 256);
        else *s += pieces[rng() % std::size(pieces)];
      }
    }
    const GuardVerdict ab = same_meaning(a, b), ba = same_meaning(b, a);
    ASSERT_EQ(ab.same, ba.same) << a << " | " << b;
    ASSERT_EQ(ab.reason, ba.reason) << a << " | " << b;
    ASSERT_TRUE(same_meaning(a, a).same) << a;
  }
}

}  // namespace
}  // namespace torii::cache
