#include "quota/plan.h"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace torii::quota {

namespace {

using namespace std::chrono;

constexpr int64_t kHourMs = 3'600'000, kDayMs = 86'400'000;

int64_t ms_of(sys_days d) { return duration_cast<milliseconds>(d.time_since_epoch()).count(); }

}  // namespace

Period period_at(BudgetPeriod p, int64_t now_ms) {
  if (p == BudgetPeriod::total) return {"total", 0, INT64_MIN};
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(now_ms)));
  const year_month_day ymd(day);
  const int y = static_cast<int>(ymd.year());
  const unsigned m = static_cast<unsigned>(ymd.month()), d = static_cast<unsigned>(ymd.day());
  char buf[32];
  switch (p) {
    case BudgetPeriod::hour: {
      const int64_t start = now_ms - (now_ms % kHourMs + kHourMs) % kHourMs;
      const int h = static_cast<int>((start - ms_of(day)) / kHourMs);
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d", y, m, d, h);
      return {buf, start + kHourMs, start};
    }
    case BudgetPeriod::day:
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", y, m, d);
      return {buf, ms_of(day) + kDayMs, ms_of(day)};
    case BudgetPeriod::week: {
      // ISO 8601: weeks start on Monday; week 1 holds the year's first Thursday.
      const weekday wd(day);
      const unsigned iso = wd.iso_encoding();  // Monday 1 .. Sunday 7
      const sys_days monday = day - days(iso - 1);
      const sys_days thursday = monday + days(3);
      const year_month_day ty(thursday);
      const sys_days jan1 = sys_days(ty.year() / January / 1);
      const int week = static_cast<int>((thursday - jan1).count() / 7 + 1);
      std::snprintf(buf, sizeof buf, "%04d-W%02d", static_cast<int>(ty.year()), week);
      return {buf, ms_of(monday + days(7)), ms_of(monday)};
    }
    case BudgetPeriod::month: {
      std::snprintf(buf, sizeof buf, "%04d-%02u", y, m);
      const year_month next = year_month(ymd.year(), ymd.month()) + months(1);
      return {buf, ms_of(sys_days(next / 1)), ms_of(sys_days(ymd.year() / ymd.month() / 1))};
    }
    case BudgetPeriod::total:
      break;
  }
  return {"total", 0, INT64_MIN};
}

// (The products are exact in 128 bits; the divisions take 64 bits when the product fits, as it
// does for any realistic limit: a 128-bit division is a slow library call, per request.)
int64_t increment_us(int64_t cost, int64_t limit, int64_t window_us) {
  int64_t num;
  if (!__builtin_mul_overflow(cost, window_us, &num) && num <= INT64_MAX - limit) {
    const int64_t inc = (num + limit - 1) / limit;
    return inc > INT64_MAX / 4 ? INT64_MAX / 4 : inc;
  }
  const __int128 wide = static_cast<__int128>(cost) * window_us;
  const __int128 inc = (wide + limit - 1) / limit;
  return inc > INT64_MAX / 4 ? INT64_MAX / 4 : static_cast<int64_t>(inc);
}

int64_t remaining(int64_t tat_us, int64_t now_us, int64_t limit, int64_t window_us) {
  const int64_t used = tat_us > now_us ? tat_us - now_us : 0;
  if (used >= window_us) return 0;
  if (int64_t num; !__builtin_mul_overflow(window_us - used, limit, &num)) return num / window_us;
  return static_cast<int64_t>(static_cast<__int128>(window_us - used) * limit / window_us);
}

int64_t wait_us(int64_t tat_us, int64_t now_us, int64_t increment, int64_t window_us) {
  const int64_t base = tat_us > now_us ? tat_us : now_us;
  const int64_t w = base + increment - window_us - now_us;
  return w > 0 ? w : 0;
}

std::string reset_text(int64_t us) {
  // Formatted in place (per request, in the x-ratelimit-reset-* headers).
  char buf[48];
  char* p = buf;
  auto put = [&](int64_t v, std::string_view unit) {
    p = std::to_chars(p, buf + sizeof buf, v).ptr;
    for (char c : unit) *p++ = c;
  };
  if (us <= 0) return "0s";
  if (us < 1'000'000) {
    put((us + 999) / 1000, "ms");
  } else {
    int64_t s = (us + 999'999) / 1'000'000;
    const int64_t h = s / 3600, m = s % 3600 / 60;
    if (h) put(h, "h");
    if (h || m) put(m, "m");
    put(s % 60, "s");
  }
  return std::string(buf, p);
}

void append_escaped(std::string& out, std::string_view value) {
  // The runs between special characters are appended whole (a value rarely has any).
  std::size_t run = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char* esc;
    switch (value[i]) {
      case '%': esc = "%25"; break;
      case ',': esc = "%2C"; break;
      case ':': esc = "%3A"; break;
      case '=': esc = "%3D"; break;
      default: continue;
    }
    out.append(value.data() + run, i - run).append(esc, 3);
    run = i + 1;
  }
  out.append(value.data() + run, value.size() - run);
}

std::string_view scope_name(QuotaScope s) {
  switch (s) {
    case QuotaScope::key: return "key";
    case QuotaScope::consumer: return "consumer";
    case QuotaScope::group: return "group";
    case QuotaScope::model: return "model";
    case QuotaScope::route: return "route";
    case QuotaScope::provider: return "provider";
  }
  return "?";
}

}  // namespace torii::quota
