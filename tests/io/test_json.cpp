// io/json: parsing every value form, escapes and \u (with surrogate pairs), exact integers,
// errors that give the byte offset, the depth limit, and writer round trips.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "io/json.h"
#include "support.h"

using namespace hmr;
using hmr::io::Json;
using hmr::io::parse_json;
using hmr::io::to_json;
using hmr::testing::error_message;

TEST(IoJson, ParsesEveryValueForm) {
  Json v = parse_json(R"( {"n": null, "t": true, "f": false, "i": -42, "d": 1.5e3,
                          "s": "a\"b\\c\/\n\t", "arr": [1, [2, []], {}], "o": {"k": "v"}} )");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.keys(), (std::vector<std::string>{"n", "t", "f", "i", "d", "s", "arr", "o"}));
  EXPECT_TRUE(v.at("n").is_null());
  EXPECT_TRUE(v.at("t").as_bool());
  EXPECT_FALSE(v.at("f").as_bool());
  EXPECT_EQ(v.at("i").as_int(), -42);
  EXPECT_FALSE(v.at("d").is_integer());
  EXPECT_EQ(v.at("d").as_double(), 1500.0);
  EXPECT_EQ(v.at("s").as_string(), "a\"b\\c/\n\t");
  EXPECT_EQ(v.at("arr").size(), 3u);
  EXPECT_EQ(v.at("arr")[1][1].size(), 0u);
  EXPECT_EQ(v.at("o").at("k").as_string(), "v");
  EXPECT_EQ(v.find("missing"), nullptr);
}

TEST(IoJson, UnicodeEscapesBecomeUtf8) {
  // U+00E9 is C3 A9; U+1F600 (surrogates D83D DE00) is F0 9F 98 80.
  EXPECT_EQ(parse_json(R"("caf\u00e9")").as_string(), "caf\xC3\xA9");
  EXPECT_EQ(parse_json(R"("\ud83d\ude00")").as_string(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(parse_json(R"("\u20AC")").as_string(), "\xE2\x82\xAC");
  EXPECT_THROW(parse_json(R"("\ud83d")"), IOError);
  EXPECT_THROW(parse_json(R"("\ude00")"), IOError);
  EXPECT_THROW(parse_json(R"("\u12G4")"), IOError);
}

TEST(IoJson, IntegersAboveTwoToThe53AreExact) {
  EXPECT_EQ(parse_json("9007199254740993").as_int(), 9007199254740993LL);
  EXPECT_EQ(parse_json("-9223372036854775808").as_int(), INT64_MIN);
  Json big = parse_json("9223372036854775808");  // one past int64: kept as a double
  EXPECT_FALSE(big.is_integer());
  EXPECT_EQ(big.as_double(), 9223372036854775808.0);
  EXPECT_THROW(parse_json("1.0").as_int(), IOError);
}

TEST(IoJson, ErrorsGiveTheOffset) {
  std::string msg = error_message([] { parse_json("[1, 2,]", "t.json"); });
  EXPECT_NE(msg.find("t.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset 6"), std::string::npos) << msg;
  msg = error_message([] { parse_json(R"({"a": 1, "a": 2})"); });
  EXPECT_NE(msg.find("duplicate key 'a'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset 9"), std::string::npos) << msg;
  for (const char* bad :
       {"",          "01",     "-",       "1.",        "1e",  ".5",  "+1",      "[1 2]",
        "{\"a\" 1}", "{1: 2}", "\"abc",   "\"a\x01\"", "tru", "nul", "[1,]",    "{\"a\":1,}",
        "1 2",       "1e999",  "\"\\x\"", "[",         "{",   "NaN", "Infinity"}) {
    EXPECT_THROW(parse_json(bad), IOError) << "'" << bad << "'";
  }
}

TEST(IoJson, DepthLimitStopsDeepNesting) {
  std::string ok = std::string(100, '[') + std::string(100, ']');
  EXPECT_NO_THROW(parse_json(ok, "ok", 100));
  std::string deep = std::string(101, '[') + std::string(101, ']');
  std::string msg = error_message([&] { parse_json(deep, "deep", 100); });
  EXPECT_NE(msg.find("too deep"), std::string::npos) << msg;
  std::string very_deep(1'000'000, '[');
  EXPECT_THROW(parse_json(very_deep), IOError);
}

TEST(IoJson, WriterFormsAndRoundTrips) {
  Json v = Json::object();
  Json arr = Json::array();
  arr.push_back(1);
  arr.push_back(2.5);
  arr.push_back("x\n\"\x01");
  v.set("a", arr);
  v.set("b", Json());
  v.set("c", true);
  EXPECT_EQ(to_json(v), R"({"a":[1,2.5,"x\n\"\u0001"],"b":null,"c":true})");
  EXPECT_EQ(to_json(v, 2),
            "{\n  \"a\": [\n    1,\n    2.5,\n    \"x\\n\\\"\\u0001\"\n  ],\n"
            "  \"b\": null,\n  \"c\": true\n}");
  Json back = parse_json(to_json(v, 2));
  EXPECT_EQ(to_json(back), to_json(v));
  // Doubles round-trip exactly through the shortest representation.
  for (double d : {0.1, 1.0 / 3.0, -2.5e-300, 6.02214076e23})
    EXPECT_EQ(parse_json(to_json(Json(d))).as_double(), d);
  EXPECT_THROW(to_json(Json(std::nan(""))), IOError);
  EXPECT_EQ(to_json(Json::object()), "{}");
  EXPECT_EQ(to_json(Json::array(), 2), "[]");
}

TEST(IoJson, TypedAccessNamesTheTypes) {
  std::string msg = error_message([] { parse_json("[1]").as_string(); });
  EXPECT_NE(msg.find("expected string but found array"), std::string::npos) << msg;
  EXPECT_THROW(parse_json("[1]")[1], IOError);
  EXPECT_THROW(parse_json("{}").at("k"), IOError);
}
